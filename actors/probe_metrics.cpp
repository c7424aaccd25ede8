#include "actors/probe_metrics.hpp"

#include <algorithm>
#include <limits>

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
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += load(buckets_[i]);
    auto bound = i < bucket_ms.size() ? bucket_ms[i] / 1000.0
                                      : std::numeric_limits<double>::infinity();
    result.latency_buckets.emplace_back(bound, cumulative);
  }
  result.latency_count = cumulative;
  result.latency_sum_seconds = load(latency_sum_us_) / 1e6;
  return result;
}

void probe_metrics::check_latency(std::chrono::microseconds latency) {
  auto us = static_cast<uint64_t>(std::max<int64_t>(latency.count(), 0));
  size_t bucket = 0;
  while (bucket < bucket_ms.size() && us > bucket_ms[bucket] * 1000)
    ++bucket;
  add(buckets_[bucket]);
  latency_sum_us_.fetch_add(us, std::memory_order_relaxed);
}

void probe_metrics::record_result(const std::string& service_id,
                                  const std::string& url, ProbeResult result) {
  std::lock_guard<std::mutex> guard{results_mutex_};
  results_[service_id][url] = std::move(result);
}

void probe_metrics::forget(const std::string& service_id,
                           const std::string& url) {
  std::lock_guard<std::mutex> guard{results_mutex_};
  auto service = results_.find(service_id);
  if (service == results_.end())
    return;
  service->second.erase(url);
  if (service->second.empty())
    results_.erase(service);
}

ProbeResults probe_metrics::results() const {
  std::lock_guard<std::mutex> guard{results_mutex_};
  return results_;
}

} // namespace orasi
