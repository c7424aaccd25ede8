// Crashed children are restarted with exponential backoff, and a restarted
// registry gets back subscriptions, probe verdicts and the backend's data.
#include "actor_fixture.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

struct running_fixture : actor_fixture {
  supervisor_actor sup;

  running_fixture() {
    source->services["api-1"] =
        make_service("api", {"http://127.0.0.1:80", "http://127.0.0.2:80"});
    sup = spawn_supervisor();
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  void crash(const caf::actor_addr& child) {
    caf::anon_send_exit(child, caf::exit_reason::kill);
    sched.run();
  }

  void send_outcome(const std::string& url, bool passed) {
    caf::anon_send(sup, probe_outcome{"api-1", url, passed, 0, caf::timespan{0},
                                      passed ? "" : "timeout"});
    sched.run();
  }
};

} // namespace

TEST_CASE_METHOD(running_fixture,
                 "a crashed backend is restarted after the "
                 "initial backoff",
                 "[supervisor][restart]") {
  auto [registry, backend] = children(sup);
  auto lists_before = source->list_calls;
  crash(backend.address());
  CHECK(!children(sup).second);
  advance(99ms);
  CHECK(!children(sup).second);
  advance(1ms);
  auto restarted = children(sup).second;
  REQUIRE(restarted);
  CHECK(restarted != backend);
  CHECK(children(sup).first == registry);        // the registry was left alone
  CHECK(source->list_calls == lists_before + 1); // resynced once
  CHECK(lifecycle(sup) == lifecycle_state::running);
  // Writes work through the new backend.
  auto version = ask<uint64_t>(sup, register_atom::value, std::string{"w-1"},
                               make_service("w", {"http://127.0.0.3:80"}));
  REQUIRE(version);
  CHECK(store->load()->services.count("w-1") == 1);
}

TEST_CASE_METHOD(running_fixture,
                 "repeated crashes double the backoff up to "
                 "the maximum",
                 "[supervisor][restart]") {
  // initial 100ms, max 800ms (see make_options)
  std::vector<caf::timespan> expected{100ms, 200ms, 400ms, 800ms, 800ms};
  for (auto delay : expected) {
    crash(children(sup).second.address());
    advance(delay - 1ms);
    CHECK(!children(sup).second);
    advance(1ms);
    CHECK(children(sup).second);
  }
}

TEST_CASE_METHOD(running_fixture,
                 "the backoff starts over after a child "
                 "stayed up for the maximum backoff",
                 "[supervisor][restart]") {
  crash(children(sup).second.address());
  advance(100ms);
  crash(children(sup).second.address());
  advance(200ms);
  REQUIRE(children(sup).second);
  advance(800ms); // stable for max_backoff
  crash(children(sup).second.address());
  advance(100ms);
  CHECK(children(sup).second);
}

TEST_CASE_METHOD(running_fixture,
                 "a restarted registry keeps versions, "
                 "subscribers and probe verdicts",
                 "[supervisor][restart]") {
  auto seen = std::make_shared<std::vector<uint64_t>>();
  auto recorder = spawn_version_recorder(sys, seen);
  REQUIRE(ask<uint64_t>(sup, subscribe_atom::value, recorder));
  CHECK(*seen == std::vector<uint64_t>{1});
  send_outcome("http://127.0.0.1:80", true);
  send_outcome("http://127.0.0.1:80", true); // Healthy after 2 passes
  auto before = store->load();
  REQUIRE(before->version == 2);
  REQUIRE(before->services.at("api-1").health_status ==
          ServiceHealthStatus::Degraded);

  auto old_registry = children(sup).first;
  crash(old_registry.address());
  // Readers keep the last snapshot while the registry is down.
  CHECK(store->load() == before);
  advance(100ms);
  auto new_registry = children(sup).first;
  REQUIRE(new_registry);
  CHECK(new_registry != old_registry);
  auto after = store->load();
  CHECK(after->version == 2); // same content: no new version
  CHECK(after->services == before->services);

  // The subscription survived: the next change reaches the recorder once.
  send_outcome("http://127.0.0.2:80", true);
  send_outcome("http://127.0.0.2:80", true);
  CHECK(store->load()->services.at("api-1").health_status ==
        ServiceHealthStatus::Healthy);
  CHECK(seen->back() == 3);
  CHECK(std::count(seen->begin(), seen->end(), 3u) == 1);
}

TEST_CASE_METHOD(running_fixture,
                 "a restarted registry whose resync fails gets a full "
                 "listing at the backend's next poll",
                 "[supervisor][restart]") {
  auto old_registry = children(sup).first;
  source->fail_next_list =
      make_error(errc::backend_unavailable, "etcd briefly away");
  crash(old_registry.address());
  advance(100ms); // the registry is back; its resync fails
  REQUIRE(children(sup).first);
  REQUIRE(children(sup).first != old_registry);
  REQUIRE(store->load()->version == 1);
  // A change the new registry must see, with no delta to carry it: only a
  // full listing can, and it must not wait for the refresh interval (30 s).
  source->services["api-2"] = make_service("api", {"http://127.0.0.3:80"});
  run_for(2s);
  auto snapshot = store->load();
  CHECK(snapshot->services.count("api-2") == 1);
  CHECK(snapshot->version == 2);
  // Deltas and verdicts reach it again.
  send_outcome("http://127.0.0.1:80", true);
  send_outcome("http://127.0.0.1:80", true);
  CHECK(store->load()->services.at("api-1").endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);
  CHECK(store->load()->version == 3);
}

TEST_CASE_METHOD(running_fixture,
                 "children that end during stop are not "
                 "restarted",
                 "[supervisor][restart]") {
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  advance(10s);
  auto [registry, backend] = children(sup);
  CHECK(!registry);
  CHECK(!backend);
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
}

TEST_CASE_METHOD(running_fixture,
                 "a write while the backend restarts fails "
                 "fast instead of hanging",
                 "[supervisor][restart]") {
  crash(children(sup).second.address());
  auto written = ask<uint64_t>(sup, register_atom::value, std::string{"w-1"},
                               make_service("w", {"http://127.0.0.3:80"}));
  REQUIRE(!written);
  CHECK(static_cast<errc>(written.error().code()) == errc::backend_unavailable);
}
