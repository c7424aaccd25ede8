#include "actors/probe_metrics.hpp"

namespace orasi {

ProbeMetrics probe_metrics::read() const {
  auto load = [](const std::atomic<uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  ProbeMetrics result;
  result.attempts_sent = load(attempts_sent_);
  result.attempts_passed = load(attempts_passed_);
  // "none" is not a failure: start at the first real reason.
  for (size_t kind = 1; kind < failure_kinds; ++kind)
    result.attempts_failed[to_string(static_cast<probe_failure>(kind))] =
        load(attempts_failed_[kind]);
  result.checks_passed = load(checks_passed_);
  result.checks_failed = load(checks_failed_);
  result.checks_degraded = load(checks_degraded_);
  result.transitions = load(transitions_);
  result.active_probes = load(active_probes_);
  return result;
}

} // namespace orasi
