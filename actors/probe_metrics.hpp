// Counters of the health checking, shared by every probe actor and the
// supervisor and read by the facade and the admin API without messages.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "messages/health_types.hpp"

namespace orasi {

/// The live counters; updated with relaxed atomics from any thread.
class probe_metrics {
public:
  void attempt_sent() { add(attempts_sent_); }
  void attempt_passed() { add(attempts_passed_); }
  void attempt_failed(probe_failure reason) {
    add(attempts_failed_[static_cast<size_t>(reason)]);
  }
  void check_done(bool passed, bool degraded) {
    add(passed ? checks_passed_ : checks_failed_);
    if (passed && degraded)
      add(checks_degraded_);
  }

  /// A check's latency, into the histogram.
  void check_latency(std::chrono::microseconds latency);

  /// The endpoint's last completed check (the dashboard shows it).
  void record_result(const std::string& service_id, const std::string& url,
                     ProbeResult result);
  /// The endpoint is no longer probed.
  void forget(const std::string& service_id, const std::string& url);
  ProbeResults results() const;
  void transition() { add(transitions_); }
  void set_active_probes(uint64_t count) {
    active_probes_.store(count, std::memory_order_relaxed);
  }

  ProbeMetrics read() const;

private:
  static void add(std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  static constexpr size_t failure_kinds =
      static_cast<size_t>(probe_failure::local) + 1;
  std::atomic<uint64_t> attempts_sent_{0};
  std::atomic<uint64_t> attempts_passed_{0};
  std::array<std::atomic<uint64_t>, failure_kinds> attempts_failed_{};
  std::atomic<uint64_t> checks_passed_{0};
  std::atomic<uint64_t> checks_failed_{0};
  std::atomic<uint64_t> checks_degraded_{0};
  std::atomic<uint64_t> transitions_{0};
  std::atomic<uint64_t> active_probes_{0};

  /// Upper bounds of the latency buckets, in milliseconds (then +Inf).
  static constexpr std::array<uint64_t, 12> bucket_ms{
      1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  std::array<std::atomic<uint64_t>, bucket_ms.size() + 1> buckets_{};
  std::atomic<uint64_t> latency_sum_us_{0};

  mutable std::mutex results_mutex_;
  ProbeResults results_; // guarded by results_mutex_
};

} // namespace orasi
