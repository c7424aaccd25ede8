// What probe_metrics keeps per endpoint: the last result, rebuilt from the
// newest compact check plus what the check lacks, comes back exactly as it
// was recorded, whatever its reason, latency and time.
#include <chrono>
#include <cstdint>
#include <string>

#include "actors/endpoint_probe_record.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

using clock_ticks = std::chrono::system_clock::duration;

ProbeResult passing(uint16_t status = 200) {
  ProbeResult out;
  out.passed = true;
  out.status_code = status;
  out.latency = 1500us;
  out.reason = "passing";
  out.at = std::chrono::system_clock::time_point{1'700'000'000'123ms};
  return out;
}

ProbeResult failing(probe_failure failure, std::string reason,
                    uint16_t status = 0) {
  auto out = passing(status);
  out.passed = false;
  out.failure = failure;
  out.reason = std::move(reason);
  return out;
}

/// Every field, for comparing and for Catch's messages.
std::string describe(const ProbeResult& r) {
  return std::string{r.passed ? "passed" : "failed"} + " " +
         std::to_string(r.status_code) + " " +
         std::to_string(r.latency.count()) + "us '" + r.reason + "' " +
         (r.degraded ? "degraded" : "-") + " " +
         std::to_string(r.at.time_since_epoch().count()) + " " +
         to_string(r.failure);
}

void check_round_trip(const ProbeResult& result) {
  INFO(describe(result));
  endpoint_probe_record record;
  record.record(result);
  CHECK(describe(record.last()) == describe(result));
  // After another result too: nothing of the first one is left behind.
  endpoint_probe_record reused;
  reused.record(
      failing(probe_failure::connection, "connection reset by peer", 0));
  reused.record(result);
  CHECK(describe(reused.last()) == describe(result));
}

} // namespace

TEST_CASE("endpoint probe record: the last result comes back exactly, "
          "whatever its reason",
          "[probe_history]") {
  check_round_trip(passing());
  auto degraded = passing(429);
  degraded.degraded = true;
  check_round_trip(degraded);
  check_round_trip(failing(probe_failure::status, "status 503", 503));
  // The engine's reasons: "status N", the failure's name, or its detail.
  for (uint8_t f = 0; f <= static_cast<uint8_t>(probe_failure::local); ++f) {
    auto failure = static_cast<probe_failure>(f);
    check_round_trip(failing(failure, to_string(failure)));
    check_round_trip(failing(failure, "connect: Connection refused", 0));
  }
  check_round_trip(failing(probe_failure::invalid_url,
                           "invalid URL: no host in http:///health"));
  // Reasons that look like a derived one but are not.
  check_round_trip(failing(probe_failure::status, "status 503", 502));
  check_round_trip(failing(probe_failure::status, "", 503));
  check_round_trip(failing(probe_failure::timeout, "passing"));
  auto odd_pass = passing();
  odd_pass.reason = "status 200";
  check_round_trip(odd_pass);
  // Failed yet degraded: no verdict says it, the record does.
  auto failed_degraded = failing(probe_failure::status, "status 429", 429);
  failed_degraded.degraded = true;
  check_round_trip(failed_degraded);
}

TEST_CASE("endpoint probe record: the last latency is exact where the "
          "check's saturates",
          "[probe_history]") {
  for (auto latency :
       {std::chrono::microseconds{0}, std::chrono::microseconds{UINT32_MAX},
        std::chrono::microseconds{int64_t{UINT32_MAX} + 1},
        std::chrono::microseconds{std::chrono::hours(2)},
        std::chrono::microseconds{-1}}) {
    auto result = passing();
    result.latency = latency;
    check_round_trip(result);
  }
  endpoint_probe_record record;
  auto slow = passing();
  slow.latency = std::chrono::hours(2);
  record.record(slow);
  REQUIRE(record.recent().size() == 1);
  CHECK(record.recent()[0].latency_us == UINT32_MAX);
  CHECK(record.last().latency == std::chrono::hours(2));
}

TEST_CASE("endpoint probe record: the last time is exact to the clock's "
          "tick, before the epoch too",
          "[probe_history]") {
  for (auto since_epoch :
       {clock_ticks{0}, clock_ticks{1}, clock_ticks{-1},
        std::chrono::duration_cast<clock_ticks>(1'700'000'000'123'456us) +
            clock_ticks{7},
        -std::chrono::duration_cast<clock_ticks>(86'400'000'999us),
        clock_ticks::max(), clock_ticks::min()}) {
    auto result = passing();
    result.at = std::chrono::system_clock::time_point{since_epoch};
    check_round_trip(result);
  }
}

TEST_CASE("endpoint probe record: the recent checks are the results' "
          "samples, oldest first, the last result the newest",
          "[probe_history]") {
  endpoint_probe_record record;
  for (uint16_t i = 0; i < recent_checks_kept + 3; ++i) {
    auto result = passing(static_cast<uint16_t>(200 + i));
    result.at += std::chrono::seconds{i};
    record.record(result);
  }
  auto recent = record.recent();
  REQUIRE(recent.size() == recent_checks_kept);
  for (size_t i = 0; i < recent.size(); ++i) {
    CHECK(recent[i].status_code == 203 + i);
    CHECK(recent[i].at_ms == 1'700'000'000'123 + 1000 * (3 + int64_t(i)));
  }
  CHECK(record.last().status_code == 200 + recent_checks_kept + 2);
}
