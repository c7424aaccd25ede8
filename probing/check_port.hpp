// What the probe actors and the supervisor hand the probe engine: one
// endpoint's check schedule, registered once and then run entirely in the
// engine's event loop (timer, attempts, retries, deadline). Outcomes come
// back in batches, one delivery carrying many checks, so a check never
// costs a thread wake-up of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "messages/actor_messages.hpp"
#include "messages/probe_settings.hpp"

namespace orasi {

/// Where a batch of check outcomes goes (the supervisor). Called on the
/// engine's thread: must not block.
class outcome_sink {
public:
  virtual ~outcome_sink() = default;
  virtual void deliver(std::vector<probe_outcome> outcomes) = 0;
};

/// Counts what the engine does; called on the engine's thread, must not
/// block (probe_metrics implements it with relaxed atomics).
class check_observer {
public:
  virtual ~check_observer() = default;
  virtual void on_attempt_sent() = 0;
  /// An attempt ended: `failure` is none if it passed.
  virtual void on_attempt_done(probe_failure failure) = 0;
  /// A check ended with `outcome`, `duration` after its first attempt began.
  virtual void on_check_done(const probe_outcome& outcome,
                             std::chrono::microseconds duration) = 0;
  /// The endpoint's schedule was removed: no more of its outcomes follow.
  virtual void on_removed(const std::string& service_id,
                          const std::string& endpoint_url) = 0;
};

/// One endpoint's schedule.
struct check_spec {
  std::string service_id;
  std::string endpoint_url;
  /// Copied into every outcome (probe_outcome::probe_id): says which probe
  /// registered the schedule, so that outcomes of a replaced one are
  /// recognised as late.
  uint64_t probe_id = 0;
  std::shared_ptr<const probe_settings> settings;
  uint64_t seed = 0; // jitter and the first check's offset
  /// Start at the fast interval (the endpoint's state is not settled).
  bool fast = true;
  std::shared_ptr<outcome_sink> sink;
  std::shared_ptr<check_observer> observer; // may be null
};

/// The engine as the actors see it. Thread-safe; nothing blocks.
class check_port {
public:
  virtual ~check_port() = default;
  /// Starts checking; the returned handle names the schedule.
  virtual uint64_t add_schedule(check_spec spec) = 0;
  /// Switches between the fast and the normal interval.
  virtual void set_fast(uint64_t handle, bool fast) = 0;
  /// Stops checking: no outcome of this schedule is delivered after the
  /// engine has processed the removal (one may already be in a batch).
  virtual void remove_schedule(uint64_t handle) = 0;
};

using check_port_ptr = std::shared_ptr<check_port>;

} // namespace orasi
