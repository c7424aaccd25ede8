// Counters of the health checking, shared by every probe actor and the
// supervisor and read by the facade and the admin API without messages.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/bounded_ring.hpp"
#include "actors/endpoint_probe_record.hpp"
#include "messages/health_types.hpp"
#include "probing/check_port.hpp"

namespace orasi {

/// The live counters; updated with relaxed atomics from any thread. As the
/// engine's check_observer it counts attempts and checks on the engine's
/// thread, without a message.
class probe_metrics : public check_observer {
public:
  void on_attempt_sent() override { attempt_sent(); }
  void on_attempt_done(probe_failure failure) override;
  void on_check_done(const probe_outcome& outcome,
                     std::chrono::microseconds duration) override;
  void on_removed(const std::string& service_id,
                  const std::string& endpoint_url) override {
    forget(service_id, endpoint_url);
  }

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

  /// The endpoint's completed check: kept as its last result and added to
  /// its ring of recent checks (the dashboard shows both). Called by the
  /// engine with the counters above: no message.
  void record_result(const std::string& service_id, const std::string& url,
                     ProbeResult result);
  /// The endpoint is no longer probed: its last result and ring go.
  void forget(const std::string& service_id, const std::string& url);
  /// The last result of every probed endpoint.
  ProbeResults results() const;
  /// The last result and recent checks of the probed endpoints of these
  /// services (ids without probed endpoints are left out).
  ProbeHistories histories(const std::vector<std::string>& service_ids) const;

  /// Counts a state change and logs it (its sequence number is set here);
  /// the log keeps the last transitions_kept.
  void transition(EndpointTransition change);
  /// The logged transitions whose sequence number is above `since`, oldest
  /// first.
  std::vector<EndpointTransition> transitions(uint64_t since = 0) const;
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

  /// What is kept per probed endpoint, allocated when its first check
  /// completes, freed when its probe stops.
  using endpoint_records =
      std::unordered_map<std::string, endpoint_probe_record>;

  /// The results, split by service id over shards with a lock each: the
  /// engine records every check, and a reader copying all of them (the
  /// admin API's /v1/probes at 10,000 endpoints) holds one shard's lock at a
  /// time, so a check waits at most for one shard's copy.
  struct results_shard {
    mutable std::mutex mutex;
    // By service id, then endpoint URL; guarded by mutex.
    std::unordered_map<std::string, endpoint_records> services;
  };
  static constexpr size_t results_shards = 64;
  results_shard& shard_of(const std::string& service_id) const;
  mutable std::array<results_shard, results_shards> shards_;

public:
  /// Tests only: called by results() after each shard's copy, that shard's
  /// lock still held.
  std::function<void(size_t shard)> after_shard_copied;

  mutable std::mutex transitions_mutex_;
  // Guarded by transitions_mutex_.
  bounded_ring<EndpointTransition, transitions_kept> transition_log_;
  uint64_t last_sequence_ = 0; // guarded by transitions_mutex_
};

} // namespace orasi
