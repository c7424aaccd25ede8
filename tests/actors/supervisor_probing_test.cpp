// Active health checking through the supervisor, in simulated time: one
// probe per endpoint, probes follow the backend, and probe results move
// endpoints and services through their states with exact thresholds.
#include "actor_fixture.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

const std::string url_a = "http://127.0.0.1:80";
const std::string url_b = "http://127.0.0.2:80";

std::string url_n(int i) {
  return "http://127.0.1." + std::to_string(i) + ":80";
}

struct probing_fixture : actor_fixture {
  supervisor_actor sup;
  std::map<std::string, uint16_t> statuses; // by endpoint; default 200

  probing_fixture() {
    script->responder = [this](const std::string& url) {
      for (auto& [endpoint, status] : statuses)
        if (url.rfind(endpoint, 0) == 0)
          return answer_status(status);
      return answer_status(200);
    };
  }

  void start(probe_settings settings = test_probe_settings()) {
    start(make_probing_options(std::move(settings)));
  }

  void start(supervisor_options options) {
    sup = spawn_supervisor(std::move(options));
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  /// Four endpoints of api-1, thresholds 1/1, the panic guard at 50%.
  supervisor_options panic_fleet() {
    source->services["api-1"] =
        make_service("api", {url_n(1), url_n(2), url_n(3), url_n(4)});
    auto settings = test_probe_settings();
    settings.thresholds = health_thresholds{1, 1};
    auto options = make_probing_options(settings);
    options.probing->panic_threshold_percent = 50;
    return options;
  }

  std::vector<std::string> probes() { return probed_endpoints(sup); }

  const ServiceInfo& service(const std::string& id) {
    snapshot = store->load();
    return snapshot->services.at(id);
  }

  /// Runs until the endpoint's next check has completed.
  void run_checks(const std::string& url, size_t checks) {
    auto target = script->count(url) + checks;
    for (int guard = 0; script->count(url) < target; ++guard) {
      REQUIRE(guard < 10'000);
      advance(10ms);
    }
    advance(20ms); // the outcome reaches the registry and is published
  }

  SnapshotPtr snapshot;
};

} // namespace

TEST_CASE_METHOD(probing_fixture,
                 "probing: endpoints start Unknown whatever the backend "
                 "declares, one probe each",
                 "[probing]") {
  source->services["api-1"] =
      make_service("api", {url_a, url_b}, EndpointHealthStatus::Healthy);
  start();
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unknown);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unknown);
  CHECK(probes() ==
        std::vector<std::string>{"api-1 " + url_a, "api-1 " + url_b});
  CHECK(metrics->read().active_probes == 2);
  CHECK(store->load()->healthy.empty());
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: success_threshold passing checks make an endpoint "
                 "Healthy, not one fewer",
                 "[probing][thresholds]") {
  source->services["api-1"] = make_service("api", {url_a});
  start(); // thresholds 2/3
  run_checks(url_a, 1);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unknown);
  run_checks(url_a, 1);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);
  CHECK(store->load()->healthy.count("api-1") == 1);
  CHECK(metrics->read().transitions == 1);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: a service goes Healthy, Degraded, Unhealthy and "
                 "Healthy again",
                 "[probing][thresholds]") {
  source->services["api-1"] = make_service("api", {url_a});
  auto settings = test_probe_settings();
  settings.retries = 0; // one attempt per check: checks = attempts
  start(settings);
  run_checks(url_a, 2);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);

  // 429: still passing, so still Healthy and routable, but degraded; the
  // only passing endpoint is degraded, so the service is Degraded at once.
  statuses[url_a] = 429;
  run_checks(url_a, 1);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Degraded);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);
  CHECK(service("api-1").endpoints.at(0).degraded);
  CHECK(store->load()->healthy.count("api-1") == 1);

  // 500: failure_threshold (3) failing checks, exactly.
  statuses[url_a] = 500;
  run_checks(url_a, 2);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Degraded);
  run_checks(url_a, 1);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unhealthy);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unhealthy);
  CHECK_FALSE(service("api-1").endpoints.at(0).degraded);
  CHECK(store->load()->healthy.empty());

  // 200: success_threshold (2) passing checks, exactly.
  statuses[url_a] = 200;
  run_checks(url_a, 1);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unhealthy);
  run_checks(url_a, 1);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Healthy);
  CHECK_FALSE(service("api-1").endpoints.at(0).degraded);
  CHECK(metrics->read().transitions == 3);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: one failing endpoint of two makes the service "
                 "Degraded and leaves the other routable",
                 "[probing]") {
  source->services["api-1"] = make_service("api", {url_a, url_b});
  statuses[url_b] = 503;
  start();
  run_for(30s);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Degraded);
  auto routable = store->load()->healthy.at("api-1").endpoints;
  REQUIRE(routable.size() == 1);
  CHECK(routable.front().url == url_a);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: removing an endpoint stops its probe, adding one "
                 "starts a probe",
                 "[probing]") {
  source->services["api-1"] = make_service("api", {url_a, url_b});
  start();
  run_for(15s);
  REQUIRE(script->count(url_b) > 0);
  source->services["api-1"] = make_service("api", {url_a});
  REQUIRE(ask<uint64_t>(sup, reload_atom::value));
  CHECK(probes() == std::vector<std::string>{"api-1 " + url_a});
  auto checks_of_b = script->count(url_b);
  auto checks_of_a = script->count(url_a);
  run_for(60s);
  CHECK(script->count(url_b) == checks_of_b); // its probe is gone
  CHECK(script->count(url_a) > checks_of_a);
  CHECK(metrics->read().active_probes == 1);

  ServiceInfo web = make_service("web", {url_b});
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"web-1"}, web));
  CHECK(probes().size() == 2);
  run_for(15s);
  CHECK(script->count(url_b) > checks_of_b);
  CHECK(service("web-1").health_status == ServiceHealthStatus::Healthy);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: stop ends every probe, start begins again from "
                 "Unknown",
                 "[probing][lifecycle]") {
  source->services["api-1"] = make_service("api", {url_a});
  start();
  run_for(15s);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  CHECK(probes().empty());
  auto attempts = script->attempts.size();
  run_for(30s);
  CHECK(script->attempts.size() == attempts);
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  CHECK(probes().size() == 1);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unknown);
  run_checks(url_a, 2);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: a stop while every endpoint is still Unknown, then "
                 "a start, probes again",
                 "[probing][lifecycle]") {
  source->services["api-1"] = make_service("api", {url_a});
  start();
  REQUIRE(probes().size() == 1);
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  // Same listing, same (Unknown) picture: the registry publishes nothing
  // new, yet the probes must come back.
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  CHECK(probes().size() == 1);
  auto before = script->count(url_a);
  run_for(3s);
  CHECK(script->count(url_a) > before);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Healthy);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: outcomes from a stopped run or a stopped probe "
                 "change nothing",
                 "[probing][lifecycle]") {
  source->services["api-1"] = make_service("api", {url_a});
  auto settings = test_probe_settings();
  settings.thresholds = health_thresholds{1, 1};
  start(settings);
  run_checks(url_a, 1);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);
  auto late = probe_outcome{"api-1", url_a, false, 500, 1ms, "status 500"};
  // Not from the endpoint's probe: ignored even while running.
  caf::anon_send(sup, late);
  sched.run();
  CHECK(service("api-1").health_status == ServiceHealthStatus::Healthy);
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  caf::anon_send(sup, late); // after the stop
  sched.run();
  script->responder = nullptr; // the next run's probe gets no answers
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  run_for(500ms);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unknown);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: a restarted registry gets the verdicts and "
                 "degraded flags back, probes keep running",
                 "[probing][restart]") {
  source->services["api-1"] = make_service("api", {url_a});
  statuses[url_a] = 429;
  start();
  run_checks(url_a, 2);
  REQUIRE(service("api-1").endpoints.at(0).degraded);
  auto probes_before = probes();
  caf::anon_send_exit(children(sup).first, caf::exit_reason::kill);
  sched.run();
  advance(100ms); // restart backoff
  run_for(50ms);
  REQUIRE(children(sup).first);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Degraded);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);
  CHECK(service("api-1").endpoints.at(0).degraded);
  CHECK(probes() == probes_before);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: a crashed probe is replaced after the backoff",
                 "[probing][restart]") {
  source->services["api-1"] = make_service("api", {url_a});
  start();
  run_for(3s);
  auto crash_target = probes();
  REQUIRE(crash_target.size() == 1);
  REQUIRE(!script->attempts.empty());
  caf::anon_send_exit(probe_of(sup, url_a), caf::exit_reason::kill);
  sched.run();
  CHECK(probes().empty());
  CHECK(metrics->read().active_probes == 0);
  advance(100ms);
  CHECK(probes().size() == 1);
  auto before = script->count(url_a);
  run_for(11s);
  CHECK(script->count(url_a) > before);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: a check the prober cannot make (local error) "
                 "decides nothing",
                 "[probing]") {
  source->services["api-1"] = make_service("api", {url_a});
  auto settings = test_probe_settings();
  settings.thresholds = health_thresholds{1, 1};
  start(settings);
  run_checks(url_a, 1);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);
  script->responder = [](const std::string&) {
    return answer_failure(probe_failure::local);
  };
  run_for(60s);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Healthy);
  CHECK(metrics->read().attempts_failed.at("local") > 0);
  CHECK(metrics->read().checks_failed == 0);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: failure_threshold failing checks make a new "
                 "endpoint Unhealthy, not one fewer",
                 "[probing][thresholds]") {
  source->services["api-1"] = make_service("api", {url_a});
  statuses[url_a] = 503;
  start(); // thresholds 2/3, 1 retry: two attempts per failing check
  run_checks(url_a, 2 * 2);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unknown);
  run_checks(url_a, 2);
  CHECK(service("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Unhealthy);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unhealthy);
  CHECK(metrics->read().checks_failed == 3);
  CHECK(metrics->read().attempts_failed.at("status") == 6);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: the panic guard keeps more than its share of "
                 "endpoints from being taken out, and lets them go as others "
                 "recover",
                 "[probing][panic]") {
  start(panic_fleet());
  run_for(3s);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);
  auto unhealthy = [&] {
    int count = 0;
    for (auto& endpoint : service("api-1").endpoints)
      count += endpoint.health_status == EndpointHealthStatus::Unhealthy;
    return count;
  };
  // Three of four fail: at most half may be out.
  for (int i : {1, 2, 3})
    statuses[url_n(i)] = 503;
  run_for(15s);
  CHECK(unhealthy() == 2);
  CHECK(store->load()->healthy.at("api-1").endpoints.size() == 2);
  // One of the excluded recovers: the held one may go now.
  auto excluded = std::vector<std::string>{};
  for (auto& endpoint : service("api-1").endpoints)
    if (endpoint.health_status == EndpointHealthStatus::Unhealthy)
      excluded.push_back(endpoint.url);
  statuses[excluded.front()] = 200;
  run_for(15s);
  CHECK(unhealthy() == 2);
  for (auto& endpoint : service("api-1").endpoints)
    CHECK(
        (endpoint.health_status == EndpointHealthStatus::Unhealthy) ==
        (statuses.count(endpoint.url) > 0 && statuses.at(endpoint.url) == 503));
  // All recover: nothing stays excluded or held.
  for (int i : {1, 2, 3})
    statuses[url_n(i)] = 200;
  run_for(15s);
  CHECK(unhealthy() == 0);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: an endpoint held by the panic guard that recovers "
                 "makes no transition, and one let go makes exactly one",
                 "[probing][panic]") {
  start(panic_fleet());
  run_for(3s);
  REQUIRE(service("api-1").health_status == ServiceHealthStatus::Healthy);
  auto every_transition_changes_state = [&] {
    for (const auto& change : metrics->transitions())
      if (change.from == change.to)
        return false;
    return true;
  };
  auto before = metrics->read().transitions; // the four Unknown -> Healthy
  for (int i : {1, 2, 3})
    statuses[url_n(i)] = 503;
  run_for(15s);
  // Two taken out, one held: still reported Healthy.
  CHECK(metrics->read().transitions == before + 2);
  std::string held;
  for (int i : {1, 2, 3})
    for (auto& endpoint : service("api-1").endpoints)
      if (endpoint.url == url_n(i) &&
          endpoint.health_status == EndpointHealthStatus::Healthy)
        held = endpoint.url;
  REQUIRE_FALSE(held.empty());
  // The held one recovers: it never left Healthy for the registry.
  statuses[held] = 200;
  run_for(15s);
  CHECK(metrics->read().transitions == before + 2);
  CHECK(every_transition_changes_state());
  // It fails again while the guard still holds (two are out), then one of
  // the two recovers: the held one goes out, with one transition.
  statuses[held] = 503;
  run_for(15s);
  CHECK(metrics->read().transitions == before + 2);
  for (int i : {1, 2, 3})
    if (url_n(i) != held) {
      statuses[url_n(i)] = 200;
      break;
    }
  run_for(15s);
  CHECK(metrics->read().transitions == before + 4); // one back, one out
  CHECK(every_transition_changes_state());
  for (auto& endpoint : service("api-1").endpoints)
    if (endpoint.url == held)
      CHECK(endpoint.health_status == EndpointHealthStatus::Unhealthy);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: without the panic guard every failing endpoint "
                 "is taken out",
                 "[probing][panic]") {
  source->services["api-1"] =
      make_service("api", {url_n(1), url_n(2), url_n(3), url_n(4)});
  auto settings = test_probe_settings();
  settings.thresholds = health_thresholds{1, 1};
  start(settings);
  run_for(3s);
  for (int i : {1, 2, 3, 4})
    statuses[url_n(i)] = 503;
  run_for(15s);
  CHECK(service("api-1").health_status == ServiceHealthStatus::Unhealthy);
  CHECK(store->load()->healthy.empty());
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: an exclusion held by the panic guard goes once a "
                 "crashed probe is back",
                 "[probing][panic]") {
  auto options = panic_fleet();
  options.restarts.initial_backoff = 30s; // the crashed probe stays away
  options.restarts.max_backoff = 60s;
  start(std::move(options));
  run_for(3s);
  statuses[url_n(1)] = 503;
  run_for(15s);
  // Crash the probe of endpoint 4: 3 probes remain, 1 of 3 is out.
  auto probe_of_4 = probe_of(sup, url_n(4));
  REQUIRE(probe_of_4);
  caf::anon_send_exit(probe_of_4, caf::exit_reason::kill);
  sched.run();
  statuses[url_n(2)] = 503; // 2 of 3 would be out: held
  run_for(15s);
  CHECK(probes().size() == 3);
  CHECK(service("api-1").endpoints.at(1).health_status ==
        EndpointHealthStatus::Healthy);
  run_for(20s); // the probe is back (4 endpoints): 2 of 4 may be out
  CHECK(probes().size() == 4);
  CHECK(service("api-1").endpoints.at(1).health_status ==
        EndpointHealthStatus::Unhealthy);
}

TEST_CASE_METHOD(probing_fixture,
                 "probing: the supervisor moves a probe to the normal "
                 "interval once its thresholds decide, and back to the fast "
                 "one while they waver",
                 "[probing][timing]") {
  source->services["api-1"] = make_service("api", {url_a});
  start(); // interval 10 s, fast 1 s, no jitter, thresholds 2/3
  auto attempt_times = [this] {
    std::vector<caf::actor_clock::time_point> times;
    for (auto& attempt : script->attempts)
      times.push_back(attempt.at);
    return times;
  };
  run_checks(url_a, 3);
  auto times = attempt_times();
  REQUIRE(times.size() == 3);
  CHECK(times[1] - times[0] == 1s);  // Unknown: fast
  CHECK(times[2] - times[1] == 10s); // two passes: Healthy, normal
  statuses[url_a] = 503;
  run_checks(url_a, 3); // a failing check makes 2 attempts (1 retry)
  times = attempt_times();
  REQUIRE(times.size() == 6);
  CHECK(times[3] - times[2] == 10s);   // the first failure, at normal
  CHECK(times[4] - times[3] == 100ms); // its retry
  CHECK(times[5] - times[3] == 1s);    // wavering: fast
}
