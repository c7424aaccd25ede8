// The dashboard's pictures, from the actors that feed them (simulated time):
// a probe adds each completed check to its endpoint's ring, and the
// supervisor logs each state change it decides, in order.
#include "actor_fixture.hpp"

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

const std::string url_a = "http://127.0.0.1:80";
const std::string url_b = "http://127.0.0.2:80";

struct history_fixture : actor_fixture {
  supervisor_actor sup;
  std::vector<uint16_t> statuses; // answers for url_a, in order; then 200

  history_fixture() {
    script->responder = [this](const std::string& url) {
      if (url.rfind(url_a, 0) != 0 || answered >= statuses.size())
        return answer_status(200);
      return answer_status(statuses[answered++]);
    };
  }

  /// One attempt per check, thresholds 1/1: every answer of url_a is one
  /// check and a differing one is a transition. Checks every second.
  void start() {
    auto settings = test_probe_settings();
    settings.interval = 1s;
    settings.retries = 0;
    settings.thresholds = health_thresholds{1, 1};
    sup = sys.spawn(supervisor, make_probing_options(settings));
    supervisors.push_back(sup);
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  /// Runs until url_a has been checked `checks` more times.
  void run_checks(size_t checks) {
    auto target = script->count(url_a) + checks;
    for (int guard = 0; script->count(url_a) < target; ++guard) {
      REQUIRE(guard < 100'000);
      advance(10ms);
    }
    advance(20ms); // the outcome reaches the supervisor
  }

  std::vector<CheckSample> recent(const std::string& url) {
    auto histories = metrics->histories({"api-1"});
    if (histories.count("api-1") == 0 || histories["api-1"].count(url) == 0)
      return {};
    return histories["api-1"][url].recent;
  }

  size_t answered = 0;
};

} // namespace

TEST_CASE_METHOD(history_fixture,
                 "probe history: a probe adds every check to its endpoint's "
                 "ring, which keeps the last ones in order",
                 "[probing][probe_history]") {
  source->services["api-1"] = make_service("api", {url_a});
  // Status 200 + i marks check i (all pass: 200-299), then a 429 and a 503.
  for (uint16_t i = 0; i < recent_checks_kept + 5; ++i)
    statuses.push_back(200 + i);
  statuses.push_back(429);
  statuses.push_back(503);
  start();
  run_checks(statuses.size());
  auto checks = recent(url_a);
  REQUIRE(checks.size() == recent_checks_kept);
  // The oldest seven went: 5 passing ones, then 2 more for the 429 and 503.
  for (size_t i = 0; i + 2 < checks.size(); ++i) {
    CHECK(checks[i].status_code == static_cast<uint16_t>(200 + 7 + i));
    CHECK(checks[i].verdict == check_verdict::passed);
  }
  CHECK(checks[recent_checks_kept - 2].verdict == check_verdict::degraded);
  CHECK(checks[recent_checks_kept - 1].verdict == check_verdict::failed);
  CHECK(checks[recent_checks_kept - 1].failure == probe_failure::status);
  auto last = metrics->results().at("api-1").at(url_a);
  CHECK(last.status_code == 503);
  CHECK(last.reason == "status 503");
}

TEST_CASE_METHOD(history_fixture,
                 "probe history: an endpoint's ring goes with its probe",
                 "[probing][probe_history]") {
  source->services["api-1"] = make_service("api", {url_a, url_b});
  start();
  run_for(5s);
  REQUIRE_FALSE(recent(url_a).empty());
  REQUIRE_FALSE(recent(url_b).empty());
  source->services["api-1"] = make_service("api", {url_a});
  REQUIRE(ask<uint64_t>(sup, reload_atom::value));
  run_for(1s);
  CHECK(recent(url_b).empty());
  CHECK_FALSE(recent(url_a).empty());
}

TEST_CASE_METHOD(history_fixture,
                 "transition log: the supervisor logs each state change in "
                 "order with its reason",
                 "[probing][probe_history]") {
  source->services["api-1"] = make_service("api", {url_a});
  statuses = {200, 503, 503, 200};
  start();
  run_checks(statuses.size());
  auto log = metrics->transitions();
  REQUIRE(log.size() == 3);
  CHECK(metrics->read().transitions == 3);
  for (size_t i = 0; i < log.size(); ++i) {
    CHECK(log[i].sequence == i + 1);
    CHECK(log[i].service_id == "api-1");
    CHECK(log[i].endpoint_url == url_a);
  }
  CHECK(log[0].from == EndpointHealthStatus::Unknown);
  CHECK(log[0].to == EndpointHealthStatus::Healthy);
  CHECK(log[0].reason == "passing");
  CHECK(log[1].from == EndpointHealthStatus::Healthy);
  CHECK(log[1].to == EndpointHealthStatus::Unhealthy);
  CHECK(log[1].reason == "status 503");
  CHECK(log[2].from == EndpointHealthStatus::Unhealthy);
  CHECK(log[2].to == EndpointHealthStatus::Healthy);
  CHECK(log[1].at <= log[2].at);
  // A reader that saw the first two gets the third only.
  auto newer = metrics->transitions(2);
  REQUIRE(newer.size() == 1);
  CHECK(newer[0].to == EndpointHealthStatus::Healthy);
}
