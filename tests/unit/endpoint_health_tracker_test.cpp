// The threshold state machine of one endpoint.
#include <algorithm>

#include "messages/endpoint_health_tracker.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

constexpr auto Healthy = EndpointHealthStatus::Healthy;
constexpr auto Unhealthy = EndpointHealthStatus::Unhealthy;
constexpr auto Unknown = EndpointHealthStatus::Unknown;

using transition = std::optional<EndpointHealthStatus>;

/// Records `count` equal results, requiring that none causes a transition.
void record_quietly(endpoint_health_tracker& tracker, bool passed,
                    uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    INFO("result " << i + 1 << " of " << count << " quiet "
                   << (passed ? "passes" : "failures"));
    REQUIRE(tracker.record(passed) == transition{});
  }
}

/// Brings a fresh tracker to `target` by a full run of results.
void drive_to(endpoint_health_tracker& tracker, health_thresholds thresholds,
              EndpointHealthStatus target) {
  auto passed = target == Healthy;
  auto run =
      std::max<uint32_t>(passed ? thresholds.success : thresholds.failure, 1);
  record_quietly(tracker, passed, run - 1);
  REQUIRE(tracker.record(passed) == transition{target});
  REQUIRE(tracker.state() == target);
}

} // namespace

TEST_CASE("tracker: a new endpoint is Unknown", "[tracker]") {
  endpoint_health_tracker tracker{health_thresholds{}};
  CHECK(tracker.state() == Unknown);
  CHECK(tracker.consecutive_passes() == 0);
  CHECK(tracker.consecutive_failures() == 0);
}

TEST_CASE("tracker: default thresholds are 2 passes and 3 failures",
          "[tracker]") {
  health_thresholds defaults;
  CHECK(defaults.success == 2);
  CHECK(defaults.failure == 3);
}

TEST_CASE("tracker: transitions happen after exactly the threshold",
          "[tracker]") {
  auto [success, failure] = GENERATE(table<uint32_t, uint32_t>(
      {{1, 1}, {2, 3}, {3, 3}, {3, 1}, {1, 4}, {5, 2}}));
  health_thresholds thresholds{success, failure};
  CAPTURE(success, failure);
  endpoint_health_tracker tracker{thresholds};

  SECTION("Unknown -> Healthy") {
    record_quietly(tracker, true, success - 1);
    CHECK(tracker.state() == Unknown);
    CHECK(tracker.consecutive_passes() == success - 1);
    CHECK(tracker.record(true) == transition{Healthy});
    CHECK(tracker.state() == Healthy);
  }
  SECTION("Unknown -> Unhealthy") {
    record_quietly(tracker, false, failure - 1);
    CHECK(tracker.state() == Unknown);
    CHECK(tracker.consecutive_failures() == failure - 1);
    CHECK(tracker.record(false) == transition{Unhealthy});
    CHECK(tracker.state() == Unhealthy);
  }
  SECTION("Healthy -> Unhealthy") {
    drive_to(tracker, thresholds, Healthy);
    record_quietly(tracker, false, failure - 1);
    CHECK(tracker.state() == Healthy);
    CHECK(tracker.record(false) == transition{Unhealthy});
    CHECK(tracker.state() == Unhealthy);
  }
  SECTION("Unhealthy -> Healthy") {
    drive_to(tracker, thresholds, Unhealthy);
    record_quietly(tracker, true, success - 1);
    CHECK(tracker.state() == Unhealthy);
    CHECK(tracker.record(true) == transition{Healthy});
    CHECK(tracker.state() == Healthy);
  }
  SECTION("staying in a state reports nothing") {
    drive_to(tracker, thresholds, Healthy);
    record_quietly(tracker, true, 10);
    CHECK(tracker.state() == Healthy);
    drive_to(tracker, thresholds, Unhealthy);
    record_quietly(tracker, false, 10);
    CHECK(tracker.state() == Unhealthy);
  }
  SECTION("a transition resets both counters") {
    drive_to(tracker, thresholds, Healthy);
    CHECK(tracker.consecutive_passes() == 0);
    CHECK(tracker.consecutive_failures() == 0);
    drive_to(tracker, thresholds, Unhealthy);
    CHECK(tracker.consecutive_passes() == 0);
    CHECK(tracker.consecutive_failures() == 0);
  }
}

TEST_CASE("tracker: an opposite result resets the counter", "[tracker]") {
  SECTION("thresholds 3/3: pass, pass, fail, pass, pass stays Unknown") {
    endpoint_health_tracker tracker{health_thresholds{3, 3}};
    for (bool passed : {true, true, false, true, true}) {
      CHECK(tracker.record(passed) == transition{});
      CHECK(tracker.state() == Unknown);
    }
    CHECK(tracker.consecutive_passes() == 2);
    CHECK(tracker.consecutive_failures() == 0);
    CHECK(tracker.record(true) == transition{Healthy});
  }
  SECTION("thresholds 3/3: fail, fail, pass, fail, fail stays Unknown") {
    endpoint_health_tracker tracker{health_thresholds{3, 3}};
    for (bool passed : {false, false, true, false, false}) {
      CHECK(tracker.record(passed) == transition{});
      CHECK(tracker.state() == Unknown);
    }
    CHECK(tracker.consecutive_failures() == 2);
    CHECK(tracker.consecutive_passes() == 0);
    CHECK(tracker.record(false) == transition{Unhealthy});
  }
  SECTION("a pass while Healthy resets the failure run") {
    health_thresholds thresholds{2, 3};
    endpoint_health_tracker tracker{thresholds};
    drive_to(tracker, thresholds, Healthy);
    record_quietly(tracker, false, 2);
    CHECK(tracker.consecutive_failures() == 2);
    CHECK(tracker.record(true) == transition{});
    CHECK(tracker.consecutive_failures() == 0);
    record_quietly(tracker, false, 2);
    CHECK(tracker.state() == Healthy);
    CHECK(tracker.record(false) == transition{Unhealthy});
  }
  SECTION("a fail while Unhealthy resets the pass run") {
    health_thresholds thresholds{3, 2};
    endpoint_health_tracker tracker{thresholds};
    drive_to(tracker, thresholds, Unhealthy);
    record_quietly(tracker, true, 2);
    CHECK(tracker.record(false) == transition{});
    CHECK(tracker.consecutive_passes() == 0);
    record_quietly(tracker, true, 2);
    CHECK(tracker.state() == Unhealthy);
    CHECK(tracker.record(true) == transition{Healthy});
  }
  SECTION("alternating results never leave Unknown") {
    endpoint_health_tracker tracker{health_thresholds{2, 2}};
    for (int i = 0; i < 20; ++i)
      CHECK(tracker.record(i % 2 == 0) == transition{});
    CHECK(tracker.state() == Unknown);
  }
}

TEST_CASE("tracker: thresholds 1/1 flip on every opposite result",
          "[tracker]") {
  endpoint_health_tracker tracker{health_thresholds{1, 1}};
  CHECK(tracker.record(false) == transition{Unhealthy});
  CHECK(tracker.record(true) == transition{Healthy});
  CHECK(tracker.record(true) == transition{});
  CHECK(tracker.record(false) == transition{Unhealthy});
  CHECK(tracker.record(false) == transition{});
  CHECK(tracker.record(true) == transition{Healthy});
  CHECK(tracker.state() == Healthy);
}

TEST_CASE("tracker: a threshold of 0 counts as 1", "[tracker]") {
  SECTION("both zero") {
    endpoint_health_tracker tracker{health_thresholds{0, 0}};
    CHECK(tracker.state() == Unknown);
    CHECK(tracker.record(true) == transition{Healthy});
    CHECK(tracker.record(false) == transition{Unhealthy});
    CHECK(tracker.record(true) == transition{Healthy});
  }
  SECTION("zero success, failure 3") {
    endpoint_health_tracker tracker{health_thresholds{0, 3}};
    CHECK(tracker.record(false) == transition{});
    CHECK(tracker.record(false) == transition{});
    CHECK(tracker.record(true) == transition{Healthy});
  }
  SECTION("success 3, zero failure") {
    endpoint_health_tracker tracker{health_thresholds{3, 0}};
    CHECK(tracker.record(true) == transition{});
    CHECK(tracker.record(false) == transition{Unhealthy});
  }
}
