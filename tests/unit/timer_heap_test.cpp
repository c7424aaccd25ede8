// The indexed timer heap on its own: order, moves in both directions,
// removal from the middle, ties, and the positions its owners keep.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "probing/timer_heap.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

struct owner {
  int id = 0;
  uint32_t position = UINT32_MAX;
};

struct owner_traits {
  static uint32_t& position(owner& x) { return x.position; }
  static bool before(const owner& a, const owner& b) { return a.id < b.id; }
};

using heap = timer_heap<owner, owner_traits>;
using time_point = heap::time_point;

time_point at(int seconds) {
  return time_point{} + std::chrono::seconds{seconds};
}

/// Pops everything: the ids in firing order.
std::vector<int> drain(heap& timers) {
  std::vector<int> ids;
  while (!timers.empty()) {
    auto& first = timers.top();
    ids.push_back(first.id);
    timers.pop();
    CHECK(first.position == heap::npos);
  }
  return ids;
}

} // namespace

TEST_CASE("timer heap: owners fire in due order", "[scheduler][timer_heap]") {
  std::vector<owner> owners(6);
  heap timers;
  int dues[] = {5, 3, 9, 1, 7, 2};
  for (int i = 0; i < 6; ++i) {
    owners[i].id = i;
    timers.arm(owners[i], at(dues[i]));
  }
  CHECK(timers.size() == 6);
  CHECK(timers.top_due() == at(1));
  CHECK(timers.due(owners[2]) == at(9));
  CHECK(drain(timers) == std::vector<int>{3, 5, 1, 0, 4, 2});
}

TEST_CASE("timer heap: re-arming moves the one item up or down",
          "[scheduler][timer_heap]") {
  std::vector<owner> owners(5);
  heap timers;
  for (int i = 0; i < 5; ++i) {
    owners[i].id = i;
    timers.arm(owners[i], at(10 * (i + 1))); // 10, 20, 30, 40, 50
  }
  SECTION("earlier") {
    timers.arm(owners[4], at(5));
    CHECK(timers.size() == 5); // moved, not added
    CHECK(timers.top().id == 4);
    CHECK(drain(timers) == std::vector<int>{4, 0, 1, 2, 3});
  }
  SECTION("later") {
    timers.arm(owners[0], at(45));
    CHECK(timers.size() == 5);
    CHECK(timers.top().id == 1);
    CHECK(drain(timers) == std::vector<int>{1, 2, 3, 0, 4});
  }
  SECTION("the same time") {
    timers.arm(owners[2], at(30));
    CHECK(drain(timers) == std::vector<int>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("timer heap: disarming from the middle", "[scheduler][timer_heap]") {
  std::vector<owner> owners(7);
  heap timers;
  for (int i = 0; i < 7; ++i) {
    owners[i].id = i;
    timers.arm(owners[i], at(i + 1));
  }
  timers.disarm(owners[1]); // an inner node, with children
  timers.disarm(owners[5]);
  CHECK(owners[1].position == heap::npos);
  CHECK(owners[5].position == heap::npos);
  CHECK(timers.size() == 5);
  timers.disarm(owners[5]); // not armed: nothing happens
  CHECK(timers.size() == 5);
  SECTION("the rest fire in order") {
    CHECK(drain(timers) == std::vector<int>{0, 2, 3, 4, 6});
  }
  SECTION("the last item") {
    timers.disarm(owners[6]);
    CHECK(drain(timers) == std::vector<int>{0, 2, 3, 4});
  }
  SECTION("an owner can be armed again") {
    timers.arm(owners[1], at(0));
    CHECK(drain(timers) == std::vector<int>{1, 0, 2, 3, 4, 6});
  }
  SECTION("clear") {
    timers.clear();
    CHECK(timers.empty());
    for (auto& x : owners)
      CHECK(x.position == heap::npos);
  }
}

TEST_CASE("timer heap: equal due times fire in the owners' order",
          "[scheduler][timer_heap]") {
  std::vector<owner> owners(8);
  heap timers;
  // Armed in an order unlike the ids, and re-armed onto the tie, so that
  // neither insertion order nor heap shape decides.
  int order[] = {6, 2, 7, 0, 4, 1, 5, 3};
  for (int i : order) {
    owners[i].id = i;
    timers.arm(owners[i], at(i % 2 == 0 ? 5 : 9));
  }
  timers.arm(owners[7], at(5));
  timers.arm(owners[0], at(9));
  timers.arm(owners[0], at(5));
  CHECK(drain(timers) == std::vector<int>{0, 2, 4, 6, 7, 1, 3, 5});
}

TEST_CASE("timer heap: agrees with a sorted reference under random use",
          "[scheduler][timer_heap]") {
  std::mt19937 random{42};
  std::vector<owner> owners(64);
  for (int i = 0; i < 64; ++i)
    owners[i].id = i;
  heap timers;
  std::map<int, int> due_of; // id -> due (seconds), the armed ones
  std::uniform_int_distribution<int> pick{0, 63}, when{0, 20}, what{0, 3};
  for (int step = 0; step < 5000; ++step) {
    auto& x = owners[pick(random)];
    switch (what(random)) {
    case 0:
    case 1: {
      auto due = when(random);
      timers.arm(x, at(due));
      due_of[x.id] = due;
      break;
    }
    case 2:
      timers.disarm(x);
      due_of.erase(x.id);
      break;
    case 3:
      if (!timers.empty()) {
        auto expected = std::min_element(
            due_of.begin(), due_of.end(), [](auto& a, auto& b) {
              return a.second != b.second ? a.second < b.second
                                          : a.first < b.first;
            });
        REQUIRE(timers.top().id == expected->first);
        REQUIRE(timers.top_due() == at(expected->second));
        due_of.erase(timers.top().id);
        timers.pop();
      }
      break;
    }
    REQUIRE(timers.size() == due_of.size());
    for (auto& [id, due] : due_of)
      REQUIRE(timers.due(owners[id]) == at(due));
  }
}
