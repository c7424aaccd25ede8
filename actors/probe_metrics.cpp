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

void probe_metrics::on_attempt_done(probe_failure failure) {
  if (failure == probe_failure::none)
    attempt_passed();
  else
    attempt_failed(failure);
}

void probe_metrics::on_check_done(const probe_outcome& outcome,
                                  std::chrono::microseconds duration) {
  check_done(outcome.passed, outcome.degraded);
  check_latency(duration);
  // The last result keeps the deciding attempt's own latency.
  auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(outcome.latency);
  record_result(outcome.service_id, outcome.endpoint_url,
                ProbeResult{outcome.passed, outcome.status_code, latency,
                            outcome.passed ? "passing" : outcome.reason,
                            outcome.degraded, std::chrono::system_clock::now(),
                            outcome.failure});
}

void probe_metrics::check_latency(std::chrono::microseconds latency) {
  auto us = static_cast<uint64_t>(std::max<int64_t>(latency.count(), 0));
  size_t bucket = 0;
  while (bucket < bucket_ms.size() && us > bucket_ms[bucket] * 1000)
    ++bucket;
  add(buckets_[bucket]);
  latency_sum_us_.fetch_add(us, std::memory_order_relaxed);
}

probe_metrics::results_shard&
probe_metrics::shard_of(const std::string& service_id) const {
  return shards_[std::hash<std::string>{}(service_id) % results_shards];
}

void probe_metrics::record_result(const std::string& service_id,
                                  const std::string& url, ProbeResult result) {
  auto& shard = shard_of(service_id);
  std::lock_guard<std::mutex> guard{shard.mutex};
  shard.services[service_id][url].record(std::move(result));
}

void probe_metrics::forget(const std::string& service_id,
                           const std::string& url) {
  auto& shard = shard_of(service_id);
  std::lock_guard<std::mutex> guard{shard.mutex};
  auto service = shard.services.find(service_id);
  if (service == shard.services.end())
    return;
  service->second.erase(url);
  if (service->second.empty())
    shard.services.erase(service);
}

ProbeResults probe_metrics::results() const {
  ProbeResults out;
  for (size_t index = 0; index < results_shards; ++index) {
    auto& shard = shards_[index];
    std::lock_guard<std::mutex> guard{shard.mutex};
    for (const auto& [id, endpoints] : shard.services) {
      auto& by_url = out[id];
      for (const auto& [url, record] : endpoints)
        by_url.emplace(url, record.last());
    }
    if (after_shard_copied)
      after_shard_copied(index);
  }
  return out;
}

ProbeHistories
probe_metrics::histories(const std::vector<std::string>& service_ids) const {
  ProbeHistories out;
  for (const auto& id : service_ids) {
    auto& shard = shard_of(id);
    std::lock_guard<std::mutex> guard{shard.mutex};
    auto service = shard.services.find(id);
    if (service == shard.services.end())
      continue;
    auto& by_url = out[id];
    for (const auto& [url, record] : service->second)
      by_url[url] = EndpointProbeHistory{record.last(), record.recent()};
  }
  return out;
}

void probe_metrics::transition(EndpointTransition change) {
  add(transitions_);
  std::lock_guard<std::mutex> guard{transitions_mutex_};
  change.sequence = ++last_sequence_;
  transition_log_.push(std::move(change));
}

std::vector<EndpointTransition>
probe_metrics::transitions(uint64_t since) const {
  std::vector<EndpointTransition> out;
  std::lock_guard<std::mutex> guard{transitions_mutex_};
  transition_log_.for_each([&](const EndpointTransition& change) {
    if (change.sequence > since)
      out.push_back(change);
  });
  return out;
}

} // namespace orasi
