// The backends' reconnect backoff with its random numbers pinned: the range
// a delay is drawn from starts at min, doubles with every failure up to max,
// and starts over after a success. A fixed retry interval fails these.
#include <chrono>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "backends/reconnect_backoff.hpp"

using orasi::backends::reconnect_backoff;
using namespace std::chrono_literals;

namespace {

using range = std::pair<long long, long long>;

/// A pick that records each range it is asked for and answers its top
/// (or its bottom).
struct pinned_pick {
  std::vector<range> asked;
  bool top = true;

  reconnect_backoff::pick_fn fn() {
    return [this](long long low, long long high) {
      asked.emplace_back(low, high);
      return top ? high : low;
    };
  }
};

std::vector<long long> delays(reconnect_backoff& backoff, int count) {
  std::vector<long long> out;
  for (int i = 0; i < count; ++i)
    out.push_back(backoff.next().count());
  return out;
}

} // namespace

TEST_CASE("reconnect backoff: the range doubles from min up to max",
          "[unit][backoff]") {
  pinned_pick pick;
  reconnect_backoff backoff{100ms, 5000ms, pick.fn()};
  CHECK(delays(backoff, 8) ==
        std::vector<long long>{100, 200, 400, 800, 1600, 3200, 5000, 5000});
  CHECK(pick.asked == std::vector<range>{{100, 100},
                                         {100, 200},
                                         {100, 400},
                                         {100, 800},
                                         {100, 1600},
                                         {100, 3200},
                                         {100, 5000},
                                         {100, 5000}});
}

TEST_CASE("reconnect backoff: full jitter keeps min as the floor",
          "[unit][backoff]") {
  pinned_pick pick;
  pick.top = false;
  reconnect_backoff backoff{100ms, 5000ms, pick.fn()};
  CHECK(delays(backoff, 5) == std::vector<long long>{100, 100, 100, 100, 100});
  // The floor is only where the draw landed: the range still grew.
  CHECK(pick.asked.back() == range{100, 1600});
}

TEST_CASE("reconnect backoff: a success starts over from min",
          "[unit][backoff]") {
  pinned_pick pick;
  reconnect_backoff backoff{100ms, 5000ms, pick.fn()};
  delays(backoff, 4);
  backoff.reset();
  CHECK(delays(backoff, 3) == std::vector<long long>{100, 200, 400});
}

TEST_CASE("reconnect backoff: unpinned delays stay within the range",
          "[unit][backoff]") {
  reconnect_backoff backoff{100ms, 5000ms};
  long long high = 100;
  for (int i = 0; i < 50; ++i) {
    auto delay = backoff.next().count();
    CAPTURE(i, delay, high);
    CHECK(delay >= 100);
    CHECK(delay <= high);
    high = std::min<long long>(5000, high * 2);
  }
}
