// Registry behaviour through the supervisor: read-your-writes, one
// notification per version, thresholds applied to probe outcomes, backend
// polling, stale marking and bad content.
#include "actor_fixture.hpp"

#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

struct started_fixture : actor_fixture {
  supervisor_actor sup;

  started_fixture() {
    source->services["api-1"] = make_service("api", {"http://127.0.0.1:80"});
    sup = spawn_supervisor();
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  void outcome(const std::string& id, const std::string& url, bool passed) {
    caf::anon_send(sup, probe_outcome{id, url, passed, 200, caf::timespan{0},
                                      passed ? "" : "status 500"});
    sched.run();
  }

  EndpointHealthStatus endpoint_state(const std::string& id, size_t index) {
    return store->load()->services.at(id).endpoints.at(index).health_status;
  }
};

} // namespace

TEST_CASE_METHOD(started_fixture,
                 "register and deregister are "
                 "read-your-writes",
                 "[registry]") {
  auto version = ask<uint64_t>(sup, register_atom::value, std::string{"web-1"},
                               make_service("web", {"http://127.0.0.5:80"}));
  REQUIRE(version);
  // The reply means: the snapshot readers see already contains the write.
  auto snapshot = store->load();
  CHECK(snapshot->version == *version);
  REQUIRE(snapshot->services.count("web-1") == 1);
  CHECK(snapshot->services.at("web-1").name == "web");
  CHECK(source->services.count("web-1") == 1); // the backend accepted it

  auto removed =
      ask<uint64_t>(sup, deregister_atom::value, std::string{"web-1"});
  REQUIRE(removed);
  CHECK(*removed == *version + 1);
  CHECK(store->load()->services.count("web-1") == 0);

  auto unknown =
      ask<uint64_t>(sup, deregister_atom::value, std::string{"nope"});
  REQUIRE(!unknown);
  CHECK(static_cast<errc>(unknown.error().code()) == errc::not_found);
  CHECK(store->load()->version == *removed); // a failed write publishes nothing
}

TEST_CASE_METHOD(started_fixture,
                 "subscribers are notified exactly once per "
                 "version",
                 "[registry][subscribe]") {
  auto seen = std::make_shared<std::vector<uint64_t>>();
  auto recorder = spawn_version_recorder(sys, seen);
  REQUIRE(ask<uint64_t>(sup, subscribe_atom::value, recorder));
  REQUIRE(ask<uint64_t>(sup, subscribe_atom::value, recorder)); // twice: once
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"b-1"},
                        make_service("b", {"http://127.0.0.6:80"})));
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"c-1"},
                        make_service("c", {"http://127.0.0.7:80"})));
  // A re-list with identical content publishes no version.
  REQUIRE(ask<uint64_t>(sup, reload_atom::value));
  // A passing check below the threshold changes nothing visible.
  outcome("api-1", "http://127.0.0.1:80", true);
  REQUIRE(ask<uint64_t>(sup, deregister_atom::value, std::string{"b-1"}));
  CHECK(*seen == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(store->load()->version == 4);

  caf::anon_send(sup, unsubscribe_atom::value, recorder);
  sched.run();
  REQUIRE(ask<uint64_t>(sup, deregister_atom::value, std::string{"c-1"}));
  CHECK(seen->size() == 4);
}

TEST_CASE_METHOD(started_fixture,
                 "probe outcomes move endpoints through the "
                 "threshold machine",
                 "[registry][thresholds]") {
  const std::string url = "http://127.0.0.1:80";
  // The backend declared Unknown; success_threshold = 2.
  outcome("api-1", url, true);
  CHECK(endpoint_state("api-1", 0) == EndpointHealthStatus::Unknown);
  outcome("api-1", url, true);
  CHECK(endpoint_state("api-1", 0) == EndpointHealthStatus::Healthy);
  CHECK(store->load()->healthy.count("api-1") == 1);
  // failure_threshold = 3, and a pass in between resets the count.
  outcome("api-1", url, false);
  outcome("api-1", url, false);
  outcome("api-1", url, true);
  outcome("api-1", url, false);
  outcome("api-1", url, false);
  CHECK(endpoint_state("api-1", 0) == EndpointHealthStatus::Healthy);
  outcome("api-1", url, false);
  CHECK(endpoint_state("api-1", 0) == EndpointHealthStatus::Unhealthy);
  CHECK(store->load()->services.at("api-1").health_status ==
        ServiceHealthStatus::Unhealthy);
  CHECK(store->load()->healthy.empty());
}

TEST_CASE_METHOD(started_fixture,
                 "service health is derived from merged "
                 "endpoint health",
                 "[registry][derivation]") {
  REQUIRE(ask<uint64_t>(
      sup, register_atom::value, std::string{"db-1"},
      make_service("db", {"http://127.0.1.1:5432", "http://127.0.1.2:5432"})));
  auto service_state = [&] {
    return store->load()->services.at("db-1").health_status;
  };
  CHECK(service_state() == ServiceHealthStatus::Unknown); // all Unknown
  for (int i = 0; i < 3; ++i)
    outcome("db-1", "http://127.0.1.1:5432", false);
  CHECK(service_state() == ServiceHealthStatus::Unhealthy); // none Healthy
  for (int i = 0; i < 2; ++i)
    outcome("db-1", "http://127.0.1.2:5432", true);
  CHECK(service_state() == ServiceHealthStatus::Degraded); // mixed
  for (int i = 0; i < 2; ++i)
    outcome("db-1", "http://127.0.1.1:5432", true);
  CHECK(service_state() == ServiceHealthStatus::Healthy); // all Healthy
  auto routable = store->load()->healthy.at("db-1");
  CHECK(routable.endpoints.size() == 2);
  // A service whose endpoints all disappear is Unhealthy and not routable.
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"db-1"},
                        make_service("db", {})));
  CHECK(service_state() == ServiceHealthStatus::Unhealthy);
  CHECK(store->load()->healthy.count("db-1") == 0);
}

TEST_CASE_METHOD(started_fixture,
                 "polled changes reach the registry on the "
                 "poll interval",
                 "[registry][backend]") {
  backends::source_update update;
  update.listing.services["new-1"] =
      make_service("new", {"http://127.0.2.1:80"});
  update.listing.revision = 7;
  source->poll_update = update;
  advance(999ms);
  CHECK(store->load()->services.count("new-1") == 0);
  advance(1ms);
  CHECK(store->load()->services.count("new-1") == 1);
  CHECK(store->load()->services.count("api-1") == 0); // full listing
}

TEST_CASE_METHOD(started_fixture,
                 "an unreachable backend marks the data "
                 "stale and keeps serving it",
                 "[registry][backend]") {
  source->poll_error = make_error(errc::backend_unavailable, "refused");
  advance(1s);
  auto snapshot = store->load();
  CHECK(snapshot->stale);
  CHECK(snapshot->services.count("api-1") == 1);
  advance(1s); // the next poll succeeds
  CHECK(!store->load()->stale);
  CHECK(store->load()->services.count("api-1") == 1);
}

TEST_CASE_METHOD(started_fixture,
                 "bad backend content is rejected and the "
                 "previous services stay",
                 "[registry][backend]") {
  auto version = store->load()->version;
  source->poll_error =
      make_error(errc::config_invalid, "services.json: malformed JSON");
  advance(1s);
  CHECK(store->load()->version == version);
  CHECK(!store->load()->stale);
  CHECK(store->load()->services.count("api-1") == 1);
}

TEST_CASE_METHOD(started_fixture, "the refresh interval re-lists the backend",
                 "[registry][backend]") {
  source->services["late-1"] = make_service("late", {"http://127.0.3.1:80"});
  advance(29s);
  CHECK(store->load()->services.count("late-1") == 0);
  advance(1s);
  CHECK(store->load()->services.count("late-1") == 1);
}
