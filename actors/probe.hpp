// The probe actor: one per endpoint. Checks it on a jittered timer, each
// check up to 1 + retries attempts through the prober, and reports one
// probe_outcome per check. Only CAF timers: tests drive it in simulated time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/endpoint_health_tracker.hpp"
#include "actors/probe_metrics.hpp"
#include "messages/actor_messages.hpp"

namespace orasi {

/// Who does the HTTP work: answers every submitted attempt with exactly one
/// attempt_result sent to `reply_to`. A plain interface, not an actor, so
/// that production probes hand attempts straight to the Asio engine's queue
/// (runtime/http_prober_port) without a message hop per attempt.
class prober_port {
public:
  virtual ~prober_port() = default;
  /// Called on the probe's thread: must not block.
  virtual void submit(attempt_request request, caf::actor reply_to) = 0;
};

using prober_port_ptr = std::shared_ptr<prober_port>;

/// Where outcomes go (the supervisor).
using outcome_listener = caf::typed_actor<caf::reacts_to<probe_outcome>>;

using probe_actor = caf::typed_actor<
    // Timer: begin the next check.
    caf::reacts_to<check_atom>,
    // Timer: the next attempt of check number N after a failed one.
    caf::reacts_to<retry_atom, uint64_t>,
    // The prober's answer to one attempt.
    caf::reacts_to<attempt_result>,
    // Timer: check N outlived its whole budget (the prober lost an attempt).
    caf::reacts_to<watchdog_atom, uint64_t>>;

/// How every endpoint is checked (from HealthCheckConfig).
struct probe_settings {
  std::string path = "/health";
  caf::timespan timeout = std::chrono::seconds(5); // per attempt
  uint32_t retries = 3; // extra attempts per check, after fast failures only
  caf::timespan interval = std::chrono::seconds(10);
  /// Used while the endpoint is Unknown or changing state (HAProxy's
  /// fastinter); never longer than `interval`.
  caf::timespan fast_interval = std::chrono::seconds(1);
  /// Each wait is interval * (1 +- jitter), uniformly.
  double jitter = 0.10;
  caf::timespan retry_backoff = std::chrono::milliseconds(100);
  std::vector<StatusRange> expected_statuses{StatusRange{200, 299}};
  /// The supervisor's thresholds: a local copy of the machine tells the
  /// probe when the endpoint is changing state.
  health_thresholds thresholds;
};

struct probe_options {
  std::string service_id;
  std::string endpoint_url;
  std::shared_ptr<const probe_settings> settings;
  prober_port_ptr prober;
  outcome_listener listener;
  std::shared_ptr<probe_metrics> metrics; // may be null
  uint64_t seed = 0;                      // jitter and initial offset
};

/// splitmix64: 8 bytes of state, where std::mt19937_64 carries 2.5 KB into
/// every one of possibly tens of thousands of probes.
class probe_rng {
public:
  using result_type = uint64_t;
  explicit probe_rng(uint64_t seed = 0) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    auto z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  uint64_t state_;
};

struct probe_state {
  probe_options options;
  std::optional<probe_target> target; // null if the URL cannot be probed
  std::string target_error;
  probe_rng random;
  endpoint_health_tracker tracker{health_thresholds{}};
  // The check in progress, if any.
  uint64_t check_number = 0;
  bool checking = false;
  caf::actor_clock::time_point check_started{};
  uint32_t attempts_made = 0;
  uint64_t attempt_id = 0; // of the attempt awaiting an answer, 0 if none
  static inline const char* name = "orasi.probe";
};

using probe_pointer = probe_actor::stateful_pointer<probe_state>;

probe_actor::behavior_type probe(probe_pointer self, probe_options options);

/// The wait before the next check: `base` scaled by a uniform factor in
/// [1 - jitter, 1 + jitter].
caf::timespan jittered(caf::timespan base, double jitter, probe_rng& rng);

} // namespace orasi
