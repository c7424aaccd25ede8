// Recovery corner cases: timers from an earlier run, endpoints that leave and
// come back, requests while a child restarts, and a start queued behind a
// stop.
#include "actor_fixture.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

const std::string api_url = "http://127.0.0.1:80";

struct recovery_fixture : actor_fixture {
  supervisor_actor sup;

  recovery_fixture() {
    source->services["api-1"] = make_service("api", {api_url});
    sup = spawn_supervisor();
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  void crash(const caf::actor_addr& child) {
    caf::anon_send_exit(child, caf::exit_reason::kill);
    sched.run();
  }

  void outcomes(bool passed, int count) {
    for (int i = 0; i < count; ++i)
      caf::anon_send(sup, probe_outcome{"api-1", api_url, passed, 0,
                                        caf::timespan{0}, "test"});
    sched.run();
  }

  EndpointHealthStatus api_state() {
    return store->load()->services.at("api-1").endpoints.at(0).health_status;
  }
};

} // namespace

TEST_CASE_METHOD(recovery_fixture,
                 "a restart timer from before a stop and "
                 "start spawns nothing",
                 "[supervisor][restart]") {
  crash(children(sup).second.address()); // restart due in 100ms
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  auto backend = children(sup).second;
  REQUIRE(backend);
  auto lists = source->list_calls;
  advance(100ms); // the old timer fires
  CHECK(children(sup).second == backend);
  CHECK(source->list_calls == lists); // no second adapter listed the source
}

TEST_CASE_METHOD(recovery_fixture,
                 "an endpoint that leaves and comes back "
                 "starts over in the threshold machine",
                 "[supervisor][thresholds]") {
  outcomes(true, 2);
  REQUIRE(api_state() == EndpointHealthStatus::Healthy);
  REQUIRE(ask<uint64_t>(sup, deregister_atom::value, std::string{"api-1"}));
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"api-1"},
                        make_service("api", {api_url})));
  CHECK(api_state() == EndpointHealthStatus::Unknown);
  outcomes(true, 1);
  CHECK(api_state() == EndpointHealthStatus::Unknown);
  outcomes(true, 1);
  CHECK(api_state() == EndpointHealthStatus::Healthy);
}

TEST_CASE_METHOD(recovery_fixture,
                 "a returning endpoint declared Healthy is "
                 "still taken out by failures",
                 "[supervisor][thresholds]") {
  outcomes(false, 3);
  REQUIRE(api_state() == EndpointHealthStatus::Unhealthy);
  REQUIRE(ask<uint64_t>(sup, deregister_atom::value, std::string{"api-1"}));
  REQUIRE(ask<uint64_t>(
      sup, register_atom::value, std::string{"api-1"},
      make_service("api", {api_url}, EndpointHealthStatus::Healthy)));
  REQUIRE(store->load()->healthy.count("api-1") == 1);
  outcomes(false, 3);
  CHECK(api_state() == EndpointHealthStatus::Unhealthy);
  CHECK(store->load()->healthy.count("api-1") == 0);
}

TEST_CASE_METHOD(recovery_fixture,
                 "results for an endpoint that is gone are "
                 "ignored",
                 "[supervisor][thresholds]") {
  caf::anon_send(sup, probe_outcome{"ghost-1", "http://127.9.9.9:80", true, 200,
                                    caf::timespan{0}, ""});
  sched.run();
  auto version = store->load()->version;
  outcomes(true, 2);
  CHECK(store->load()->version == version + 1); // only api-1 changed
  CHECK(store->load()->services.count("ghost-1") == 0);
}

TEST_CASE_METHOD(recovery_fixture,
                 "a subscriber added while the registry "
                 "restarts gets the current snapshot once",
                 "[supervisor][subscribe]") {
  crash(children(sup).first.address());
  auto seen = std::make_shared<std::vector<uint64_t>>();
  auto recorder = spawn_version_recorder(sys, seen);
  REQUIRE(ask<uint64_t>(sup, subscribe_atom::value, recorder));
  CHECK(*seen == std::vector<uint64_t>{1});
  advance(100ms); // registry back, same content: no new version
  CHECK(*seen == std::vector<uint64_t>{1});
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"b-1"},
                        make_service("b", {"http://127.0.0.2:80"})));
  CHECK(*seen == std::vector<uint64_t>{1, 2});
}

TEST_CASE_METHOD(recovery_fixture,
                 "a write while the registry restarts is "
                 "refused before it reaches the backend",
                 "[supervisor][restart]") {
  crash(children(sup).first.address());
  auto written = ask<uint64_t>(sup, register_atom::value, std::string{"w-1"},
                               make_service("w", {"http://127.0.0.3:80"}));
  REQUIRE(!written);
  CHECK(static_cast<errc>(written.error().code()) == errc::backend_unavailable);
  CHECK_THAT(error_message(written.error()), Catch::Contains("registry"));
  CHECK(source->services.count("w-1") == 0);
}

TEST_CASE_METHOD(recovery_fixture,
                 "a start that arrives while stopping runs "
                 "after the stop",
                 "[supervisor][lifecycle]") {
  auto stop = self->request(sup, caf::infinite, stop_atom::value);
  auto start = self->request(sup, caf::infinite, start_atom::value);
  sched.run();
  stop.receive([](caf::ok_atom) {},
               [](caf::error& err) { FAIL(error_message(err)); });
  start.receive([](uint64_t version) { CHECK(version == 1); },
                [](caf::error& err) { FAIL(error_message(err)); });
  CHECK(lifecycle(sup) == lifecycle_state::running);
  CHECK(children(sup).first);
  CHECK(children(sup).second);
}

TEST_CASE_METHOD(recovery_fixture,
                 "the stale flag is raised while the "
                 "backend restarts and cleared after",
                 "[supervisor][restart][stale]") {
  source->poll_error = make_error(errc::backend_unavailable, "refused");
  advance(1s);
  REQUIRE(store->load()->stale);
  crash(children(sup).second.address());
  CHECK(store->load()->stale);
  advance(100ms); // the new adapter lists the source successfully
  CHECK(!store->load()->stale);

  crash(children(sup).second.address()); // from a healthy state
  CHECK(store->load()->stale);
  CHECK(store->load()->services.count("api-1") == 1); // still served
  advance(200ms);
  CHECK(!store->load()->stale);
}
