// The compact ring of recent checks: what goes in comes out exactly, while
// each check is held as an offset from a base time in 11 bytes.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "actors/compact_check_ring.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

constexpr int64_t day_ms = 24 * 3600 * 1000LL;
// One more than the largest offset from the base.
constexpr int64_t offset_range_ms = int64_t{1} << 32;

CheckSample sample(int64_t at_ms, uint16_t status = 200,
                   uint32_t latency_us = 1500,
                   check_verdict verdict = check_verdict::passed,
                   probe_failure failure = probe_failure::none) {
  CheckSample out;
  out.at_ms = at_ms;
  out.latency_us = latency_us;
  out.status_code = status;
  out.verdict = verdict;
  out.failure = failure;
  return out;
}

/// A sample's fields, for comparing and for Catch's messages.
std::string describe(const CheckSample& s) {
  return std::to_string(s.at_ms) + " " + std::to_string(s.latency_us) + "us " +
         std::to_string(s.status_code) + " " + to_string(s.verdict) + " " +
         to_string(s.failure);
}

std::vector<std::string> describe(const std::vector<CheckSample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples)
    out.push_back(describe(s));
  return out;
}

template <size_t N>
void push_all(compact_check_ring<N>& ring,
              const std::vector<CheckSample>& samples) {
  for (const auto& s : samples)
    ring.push(s);
}

} // namespace

TEST_CASE("compact check ring: every verdict and failure kind, and the "
          "extreme statuses and latencies, come out as they went in",
          "[probe_history]") {
  const int64_t now_ms = 1'700'000'000'000;
  for (auto verdict : {check_verdict::passed, check_verdict::degraded,
                       check_verdict::failed}) {
    INFO(to_string(verdict));
    std::vector<CheckSample> all;
    for (uint8_t f = 0; f <= static_cast<uint8_t>(probe_failure::local); ++f)
      all.push_back(
          sample(now_ms + f, 503, 7, verdict, static_cast<probe_failure>(f)));
    all.push_back(sample(now_ms, 0, 0, verdict));
    all.push_back(sample(now_ms, UINT16_MAX, UINT32_MAX, verdict));
    REQUIRE(all.size() <= recent_checks_kept);

    compact_check_ring<recent_checks_kept> ring;
    push_all(ring, all);
    CHECK(describe(ring.to_vector()) == describe(all));
    CHECK(describe(ring.newest()) == describe(all.back()));
  }
}

TEST_CASE("compact check ring: a full ring drops the oldest, oldest first "
          "whatever the wrap",
          "[probe_history]") {
  compact_check_ring<4> ring;
  CHECK(ring.empty());
  CHECK(ring.to_vector().empty());
  std::vector<CheckSample> pushed;
  for (uint16_t i = 0; i < 11; ++i) {
    pushed.push_back(sample(1000 + i * 10, static_cast<uint16_t>(200 + i)));
    ring.push(pushed.back());
    auto kept = std::min<size_t>(pushed.size(), 4);
    REQUIRE(ring.size() == kept);
    std::vector<CheckSample> last(pushed.end() - static_cast<long>(kept),
                                  pushed.end());
    CHECK(describe(ring.to_vector()) == describe(last));
    CHECK(describe(ring.newest()) == describe(pushed.back()));
  }
}

TEST_CASE("compact check ring: a clock that goes back rebases, every time "
          "kept exact",
          "[probe_history]") {
  compact_check_ring<4> ring;
  const int64_t t = 1'700'000'000'000;
  std::vector<CheckSample> pushed{sample(t), sample(t + 1000),
                                  sample(t - 60'000), sample(t - 61'000)};
  push_all(ring, pushed);
  CHECK_FALSE(ring.holds_full_times());
  CHECK(describe(ring.to_vector()) == describe(pushed));
  // Before the epoch too.
  ring.push(sample(-5));
  pushed.push_back(sample(-5));
  CHECK(describe(ring.to_vector()) ==
        describe({pushed.begin() + 1, pushed.end()}));
}

TEST_CASE("compact check ring: probing for months rebases as the 32-bit "
          "offsets run out, every time kept exact",
          "[probe_history]") {
  compact_check_ring<4> ring;
  std::vector<CheckSample> pushed;
  // A check every 10 days for 200 days: the ring always spans 30 days, but
  // the first base is passed by more than 2^32 ms.
  for (int64_t day = 0; day <= 200; day += 10) {
    pushed.push_back(sample(1'700'000'000'000 + day * day_ms + 7));
    ring.push(pushed.back());
    CHECK_FALSE(ring.holds_full_times());
    std::vector<CheckSample> last(pushed.end() - static_cast<long>(ring.size()),
                                  pushed.end());
    CHECK(describe(ring.to_vector()) == describe(last));
  }
}

TEST_CASE("compact check ring: checks further apart than 2^32 ms keep their "
          "full times until the far one is dropped",
          "[probe_history]") {
  compact_check_ring<4> ring;
  const int64_t booted = 12'345;               // a clock not set yet
  const int64_t set = 1'700'000'000'000 + 678; // then set, 54 years on
  std::vector<CheckSample> pushed{sample(booted), sample(booted + 1000),
                                  sample(set)};
  push_all(ring, pushed);
  CHECK(ring.holds_full_times());
  CHECK(describe(ring.to_vector()) == describe(pushed));

  // Exactly 2^32 - 1 ms apart still fits offsets; 2^32 does not.
  compact_check_ring<4> edge;
  edge.push(sample(set));
  edge.push(sample(set + offset_range_ms - 1));
  CHECK_FALSE(edge.holds_full_times());
  edge.push(sample(set + offset_range_ms));
  CHECK(edge.holds_full_times());
  CHECK(edge.to_vector().back().at_ms == set + offset_range_ms);
  CHECK(edge.to_vector().front().at_ms == set);

  // Checks after the jump: once the last boot-time one is dropped the ring
  // is back to offsets, every time still exact.
  for (int64_t i = 1; i <= 3; ++i) {
    pushed.push_back(sample(set + i * 1000));
    ring.push(pushed.back());
    CHECK(ring.holds_full_times() == (i < 3));
    CHECK(describe(ring.to_vector()) ==
          describe({pushed.end() - 4, pushed.end()}));
  }
  CHECK(ring.to_vector().front().at_ms == set);
}

TEST_CASE("compact check ring: the extremes of int64 milliseconds side by "
          "side",
          "[probe_history]") {
  compact_check_ring<4> ring;
  const auto lo = std::numeric_limits<int64_t>::min();
  const auto hi = std::numeric_limits<int64_t>::max();
  std::vector<CheckSample> pushed{sample(hi), sample(lo), sample(0),
                                  sample(hi - 1), sample(lo + 1)};
  push_all(ring, pushed);
  CHECK(ring.holds_full_times());
  CHECK(describe(ring.to_vector()) ==
        describe({pushed.begin() + 1, pushed.end()}));
}
