// What the runtime keeps of the health checks for the dashboard: a bounded
// ring of recent checks per endpoint and a bounded log of transitions, both
// in probe_metrics; the ring itself.
#include <cstdint>
#include <string>
#include <vector>

#include "actors/bounded_ring.hpp"
#include "actors/compact_check_ring.hpp"
#include "actors/endpoint_probe_record.hpp"
#include "actors/probe_metrics.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

std::vector<int> contents(const bounded_ring<int, 4>& ring) {
  return ring.to_vector();
}

ProbeResult result(uint16_t status, bool passed, bool degraded = false) {
  ProbeResult out;
  out.passed = passed;
  out.status_code = status;
  out.latency = 1500us;
  out.reason = passed ? "passing" : "status " + std::to_string(status);
  out.degraded = degraded;
  out.at = std::chrono::system_clock::time_point{123456ms};
  out.failure = passed ? probe_failure::none : probe_failure::status;
  return out;
}

EndpointTransition change(const std::string& url, EndpointHealthStatus from,
                          EndpointHealthStatus to) {
  EndpointTransition out;
  out.service_id = "api-1";
  out.endpoint_url = url;
  out.from = from;
  out.to = to;
  out.reason = "passing";
  return out;
}

} // namespace

TEST_CASE("bounded ring: keeps the last N values, oldest first",
          "[probe_history]") {
  bounded_ring<int, 4> ring;
  CHECK(ring.empty());
  CHECK(contents(ring).empty());
  ring.push(1);
  ring.push(2);
  CHECK(ring.size() == 2);
  CHECK(contents(ring) == std::vector<int>{1, 2});
  ring.push(3);
  ring.push(4);
  CHECK(contents(ring) == std::vector<int>{1, 2, 3, 4});
  // Full: each push drops the oldest.
  ring.push(5);
  CHECK(ring.size() == 4);
  CHECK(contents(ring) == std::vector<int>{2, 3, 4, 5});
  for (int i = 6; i <= 11; ++i)
    ring.push(i);
  CHECK(ring.size() == bounded_ring<int, 4>::capacity());
  CHECK(contents(ring) == std::vector<int>{8, 9, 10, 11});
}

TEST_CASE("probe history: a public sample is 16 bytes, the ring keeps a "
          "check in 11, so an endpoint's record is 392 bytes",
          "[probe_history]") {
  // The record is most of the memory per probed endpoint (README,
  // Performance): keep it from growing unnoticed.
  CHECK(sizeof(CheckSample) == 16);
  using ring = compact_check_ring<recent_checks_kept>;
  CHECK(ring::bytes_per_check == 11);
  // The checks, then the base time, the full times' pointer and two counts,
  // rounded up to 8 bytes.
  CHECK(sizeof(ring) == 376);
  // The ring, the extras' pointer, the time below the millisecond and three
  // small fields.
  CHECK(sizeof(endpoint_probe_record) == 392);
}

TEST_CASE("probe history: each recorded check is a sample in its endpoint's "
          "ring, the last one also kept whole",
          "[probe_history]") {
  probe_metrics metrics;
  const std::string url = "http://127.0.0.1:80";
  metrics.record_result("api-1", url, result(200, true));
  metrics.record_result("api-1", url, result(429, true, true));
  metrics.record_result("api-1", url, result(503, false));
  metrics.record_result("web-1", "http://127.0.0.2:80", result(200, true));

  auto histories = metrics.histories({"api-1", "no-such-service"});
  REQUIRE(histories.size() == 1);
  REQUIRE(histories.at("api-1").size() == 1);
  const auto& history = histories.at("api-1").at(url);
  CHECK(history.last.reason == "status 503");
  CHECK(history.last.status_code == 503);
  REQUIRE(history.recent.size() == 3);
  CHECK(history.recent[0].verdict == check_verdict::passed);
  CHECK(history.recent[0].status_code == 200);
  CHECK(history.recent[0].latency_us == 1500);
  CHECK(history.recent[0].at_ms == 123456);
  CHECK(history.recent[0].failure == probe_failure::none);
  CHECK(history.recent[1].verdict == check_verdict::degraded);
  CHECK(history.recent[2].verdict == check_verdict::failed);
  CHECK(history.recent[2].failure == probe_failure::status);

  // The plain last-check view is unchanged.
  auto last = metrics.results();
  CHECK(last.at("api-1").at(url).status_code == 503);
  CHECK(last.at("web-1").size() == 1);
}

TEST_CASE("probe history: the ring holds the last recent_checks_kept checks, "
          "oldest dropped",
          "[probe_history]") {
  probe_metrics metrics;
  const std::string url = "http://127.0.0.1:80";
  // Status 200 + i marks check i (all pass: 200-299).
  for (uint16_t i = 0; i < recent_checks_kept + 8; ++i)
    metrics.record_result("api-1", url, result(200 + i, true));
  auto recent = metrics.histories({"api-1"}).at("api-1").at(url).recent;
  REQUIRE(recent.size() == recent_checks_kept);
  for (size_t i = 0; i < recent.size(); ++i)
    CHECK(recent[i].status_code == static_cast<uint16_t>(200 + 8 + i));
}

TEST_CASE("probe history: latencies beyond 32 bits of microseconds saturate",
          "[probe_history]") {
  probe_metrics metrics;
  auto slow = result(200, true);
  slow.latency = std::chrono::hours(2);
  metrics.record_result("api-1", "http://127.0.0.1:80", slow);
  auto recent =
      metrics.histories({"api-1"}).at("api-1").at("http://127.0.0.1:80").recent;
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].latency_us == UINT32_MAX);
}

TEST_CASE("probe history: forgetting an endpoint drops its ring",
          "[probe_history]") {
  probe_metrics metrics;
  metrics.record_result("api-1", "http://127.0.0.1:80", result(200, true));
  metrics.record_result("api-1", "http://127.0.0.2:80", result(200, true));
  metrics.forget("api-1", "http://127.0.0.1:80");
  auto histories = metrics.histories({"api-1"});
  CHECK(histories.at("api-1").count("http://127.0.0.1:80") == 0);
  CHECK(histories.at("api-1").count("http://127.0.0.2:80") == 1);
  metrics.forget("api-1", "http://127.0.0.2:80");
  CHECK(metrics.histories({"api-1"}).empty());
  CHECK(metrics.results().empty());
}

TEST_CASE("transition log: numbered in order, bounded, oldest dropped, read "
          "after a sequence number",
          "[probe_history]") {
  probe_metrics metrics;
  CHECK(metrics.transitions().empty());
  const auto total = transitions_kept + 88;
  for (size_t i = 0; i < total; ++i)
    metrics.transition(change("http://127.0.0.1:" + std::to_string(i),
                              EndpointHealthStatus::Healthy,
                              EndpointHealthStatus::Unhealthy));
  // Every transition counts, only the last transitions_kept are kept.
  CHECK(metrics.read().transitions == total);
  auto log = metrics.transitions();
  REQUIRE(log.size() == transitions_kept);
  CHECK(log.front().sequence == 89);
  CHECK(log.front().endpoint_url == "http://127.0.0.1:88");
  CHECK(log.back().sequence == total);
  for (size_t i = 1; i < log.size(); ++i)
    CHECK(log[i].sequence == log[i - 1].sequence + 1);

  auto newer = metrics.transitions(total - 2);
  REQUIRE(newer.size() == 2);
  CHECK(newer[0].sequence == total - 1);
  CHECK(newer[1].sequence == total);
  CHECK(metrics.transitions(total).empty());
}
