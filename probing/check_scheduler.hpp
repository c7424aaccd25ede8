// The check schedules of many endpoints, as one pure class: when each check
// starts, which attempt it makes next, when it gives up, what its outcome
// is. It owns no thread and reads no clock: its driver passes `now` in and
// runs it where the I/O runs (the probe engine's event loop; in the actor
// tests, an actor on CAF's simulated clock), and hands its attempts to
// whoever does the HTTP.
//
// Check semantics: up to 1 + retries attempts; an attempt that times out
// ends its check (failed); retries, after retry_backoff, follow only
// failures that come back before the timeout; a check passes iff one of its
// attempts passes. The next check starts a jittered interval after this
// one started, so slow checks do not drift the schedule.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "messages/probe_messages.hpp"
#include "probing/check_port.hpp"
#include "probing/timer_heap.hpp"

namespace orasi {

class check_scheduler {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  /// Starts one attempt; its answer must come back through
  /// on_attempt_result() (with the request's attempt_id).
  using attempt_submitter = std::function<void(attempt_request)>;

  /// An attempt the submitter never answers fails its check this long
  /// after its own timeout: a lost attempt is a bug, never a slow endpoint.
  static constexpr caf::timespan lost_attempt_grace = std::chrono::seconds(1);

  explicit check_scheduler(attempt_submitter submit);

  check_scheduler(const check_scheduler&) = delete;
  check_scheduler& operator=(const check_scheduler&) = delete;

  /// Registers a schedule under `handle` (unique, chosen by the caller);
  /// its first check starts at a random point within one fast interval, so
  /// that endpoints that appear together spread out.
  void add(uint64_t handle, check_spec spec, time_point now);
  /// No-op for an unknown handle (e.g. already removed).
  void set_fast(uint64_t handle, bool fast, time_point now);
  void remove(uint64_t handle);

  /// Starts every check, retry and lost-attempt verdict due at `now`.
  void run_due(time_point now);
  /// The answer to an attempt; stale answers (the check moved on, or the
  /// schedule was removed) are dropped.
  void on_attempt_result(attempt_result result, time_point now);

  /// When run_due() has something to do next, if anything.
  std::optional<time_point> next_due() const;

  /// Delivers every outcome gathered since the last flush, one batch per
  /// sink.
  void flush();
  /// Outcomes waiting for flush().
  size_t pending_outcomes() const { return pending_count_; }

  size_t schedules() const { return entries_.size(); }
  size_t attempts_in_flight() const { return in_flight_.size(); }

private:
  enum class wait_kind : uint8_t { check, retry, lost_attempt };

  // What many schedules share (in practice every schedule of a
  // supervisor: one settings, one sink, one observer), held once and named
  // by an index in each entry.
  struct shared_context {
    std::shared_ptr<const probe_settings> settings;
    std::shared_ptr<outcome_sink> sink;
    std::shared_ptr<check_observer> observer;
    size_t users = 0;
  };

  // Small on purpose: there is one per endpoint.
  struct entry {
    std::string service_id;
    std::string endpoint_url;
    uint64_t probe_id = 0;
    // Meaningful iff target_valid. An invalid URL's reason is worked out
    // again when its check fails rather than kept by every schedule.
    probe_target target;
    probe_rng random;
    // The check in progress, if any.
    time_point check_started{};
    uint64_t attempt_id = 0; // awaiting an answer, 0 if none
    uint32_t attempts_made = 0;
    uint32_t context = 0; // in contexts_
    // The one pending timer of this schedule: its item in timers_, and
    // what it waits for.
    uint32_t heap_position = timer_heap_npos;
    wait_kind waiting = wait_kind::check;
    bool target_valid = false;
    bool fast = true;
    bool checking = false;
  };

  using entry_map = std::unordered_map<uint64_t, entry>;
  using node = entry_map::value_type;

  // The heap points at map nodes, which stay put while the map rehashes.
  // Schedules due together fire in the order of their handles.
  struct timer_traits {
    static uint32_t& position(node& n) { return n.second.heap_position; }
    static bool before(const node& a, const node& b) {
      return a.first < b.first;
    }
  };

  void arm(node& n, wait_kind what, time_point due);
  void begin_check(node& n, time_point now);
  void send_attempt(node& n, time_point now);
  void judge(node& n, const attempt_result& result, time_point now);
  void finish_check(node& n, std::optional<probe_outcome> outcome,
                    time_point now);
  caf::timespan current_interval(const entry& e) const;
  probe_outcome make_outcome(const entry& e) const;

  const shared_context& context_of(const entry& e) const {
    return contexts_[e.context];
  }
  const probe_settings& settings_of(const entry& e) const {
    return *contexts_[e.context].settings;
  }
  uint32_t acquire_context(check_spec& spec);
  void release_context(uint32_t index);

  attempt_submitter submit_;
  entry_map entries_;
  timer_heap<node, timer_traits> timers_;
  std::vector<shared_context> contexts_;
  std::vector<uint32_t> free_contexts_; // unused slots of contexts_
  std::map<std::tuple<const void*, const void*, const void*>, uint32_t>
      context_index_; // (settings, sink, observer) -> slot
  uint64_t next_attempt_id_ = 0;
  // Attempt id -> the schedule that sent it.
  std::unordered_map<uint64_t, uint64_t> in_flight_;
  // Outcomes not yet delivered, by sink.
  std::unordered_map<outcome_sink*, std::pair<std::shared_ptr<outcome_sink>,
                                              std::vector<probe_outcome>>>
      pending_;
  size_t pending_count_ = 0;
};

} // namespace orasi
