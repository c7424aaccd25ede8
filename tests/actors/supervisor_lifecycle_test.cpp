// Lifecycle of the supervisor: stopped -> starting -> running -> stopping ->
// stopped, including a stop that arrives during start and a failed start.
#include "actor_fixture.hpp"

using namespace orasi;
using namespace orasi::test;

namespace {

errc code_of(const caf::error& err) {
  REQUIRE(is_orasi_error(err));
  return static_cast<errc>(err.code());
}

} // namespace

TEST_CASE_METHOD(actor_fixture, "start lists the backend and runs",
                 "[supervisor][lifecycle]") {
  source->services["api-1"] = make_service("api", {"http://127.0.0.1:80"});
  auto sup = spawn_supervisor();
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
  auto version = ask<uint64_t>(sup, start_atom::value);
  REQUIRE(version);
  CHECK(*version == 1);
  CHECK(lifecycle(sup) == lifecycle_state::running);
  auto snapshot = store->load();
  CHECK(snapshot->version == 1);
  REQUIRE(snapshot->services.count("api-1") == 1);
  CHECK(snapshot->services.at("api-1").name == "api");
  auto [registry, backend] = children(sup);
  CHECK(registry);
  CHECK(backend);
}

TEST_CASE_METHOD(actor_fixture,
                 "the supervisor is starting until the first "
                 "sync completes",
                 "[supervisor][lifecycle]") {
  auto sup = spawn_supervisor();
  sched.run();
  auto start = self->request(sup, caf::infinite, start_atom::value);
  sched.prioritize(sup);
  sched.run_once(); // the supervisor handles start: spawns, asks for a sync
  auto state = self->request(sup, caf::infinite, lifecycle_atom::value);
  sched.prioritize(sup);
  sched.run_once(); // answers the lifecycle query before the sync is done
  state.receive(
      [](lifecycle_state x) { CHECK(x == lifecycle_state::starting); },
      [](caf::error& err) { FAIL(error_message(err)); });
  sched.run();
  start.receive([](uint64_t version) { CHECK(version == 1); },
                [](caf::error& err) { FAIL(error_message(err)); });
  CHECK(lifecycle(sup) == lifecycle_state::running);
}

TEST_CASE_METHOD(actor_fixture,
                 "start is idempotent and concurrent starts "
                 "share one result",
                 "[supervisor][lifecycle]") {
  auto sup = spawn_supervisor();
  auto first = self->request(sup, caf::infinite, start_atom::value);
  auto second = self->request(sup, caf::infinite, start_atom::value);
  sched.run();
  std::vector<uint64_t> versions;
  for (auto* handle : {&first, &second})
    handle->receive([&](uint64_t version) { versions.push_back(version); },
                    [](caf::error& err) { FAIL(error_message(err)); });
  CHECK(versions == std::vector<uint64_t>{1, 1});
  CHECK(source->list_calls == 1);
  auto again = ask<uint64_t>(sup, start_atom::value);
  REQUIRE(again);
  CHECK(*again == 1);
  CHECK(source->list_calls == 1);
}

TEST_CASE_METHOD(actor_fixture,
                 "stop ends every child and keeps the last "
                 "snapshot readable",
                 "[supervisor][lifecycle]") {
  source->services["api-1"] = make_service("api", {"http://127.0.0.1:80"});
  auto sup = spawn_supervisor();
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  auto [registry, backend] = children(sup);
  self->monitor(registry);
  self->monitor(backend);
  auto stopped = ask<caf::ok_atom>(sup, stop_atom::value);
  REQUIRE(stopped);
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
  auto [registry_after, backend_after] = children(sup);
  CHECK(!registry_after);
  CHECK(!backend_after);
  int downs = 0;
  while (self->has_next_message())
    self->receive([&](caf::down_msg&) { ++downs; });
  CHECK(downs == 2);
  CHECK(store->load()->services.count("api-1") == 1);
  CHECK(ask<caf::ok_atom>(sup, stop_atom::value)); // idempotent
}

TEST_CASE_METHOD(actor_fixture,
                 "a stop during start fails the start and "
                 "ends stopped",
                 "[supervisor][lifecycle]") {
  auto sup = spawn_supervisor();
  sched.run();
  auto start = self->request(sup, caf::infinite, start_atom::value);
  sched.prioritize(sup);
  sched.run_once(); // starting: children spawned, sync requested
  auto stop = self->request(sup, caf::infinite, stop_atom::value);
  sched.prioritize(sup);
  sched.run_once(); // the stop overtakes the sync
  sched.run();
  start.receive([](uint64_t) { FAIL("start must fail when stopped"); },
                [](caf::error& err) {
                  CHECK(code_of(err) == errc::not_running);
                  CHECK_THAT(error_message(err),
                             Catch::Contains("stopped while starting"));
                });
  stop.receive([](caf::ok_atom) {},
               [](caf::error& err) { FAIL(error_message(err)); });
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
  auto [registry, backend] = children(sup);
  CHECK(!registry);
  CHECK(!backend);
  // The late sync reply must not revive the system.
  sched.run();
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
}

TEST_CASE_METHOD(actor_fixture,
                 "a failed first sync fails start and a later "
                 "start succeeds",
                 "[supervisor][lifecycle]") {
  source->fail_next_list =
      make_error(errc::backend_unavailable, "http://127.0.0.1:2379: refused");
  auto sup = spawn_supervisor();
  auto failed = ask<uint64_t>(sup, start_atom::value);
  REQUIRE(!failed);
  CHECK(code_of(failed.error()) == errc::backend_unavailable);
  CHECK_THAT(error_message(failed.error()), Catch::Contains("2379"));
  CHECK(lifecycle(sup) == lifecycle_state::stopped);
  auto retried = ask<uint64_t>(sup, start_atom::value);
  REQUIRE(retried);
  CHECK(lifecycle(sup) == lifecycle_state::running);
}

TEST_CASE_METHOD(actor_fixture, "writes need a running system",
                 "[supervisor][lifecycle]") {
  auto sup = spawn_supervisor();
  auto written = ask<uint64_t>(sup, register_atom::value, std::string{"x-1"},
                               make_service("x", {"http://127.0.0.9:1"}));
  REQUIRE(!written);
  CHECK(code_of(written.error()) == errc::not_running);
  auto removed = ask<uint64_t>(sup, deregister_atom::value, std::string{"x-1"});
  REQUIRE(!removed);
  CHECK(code_of(removed.error()) == errc::not_running);
}

TEST_CASE_METHOD(actor_fixture, "stop then start again continues versions",
                 "[supervisor][lifecycle]") {
  source->services["a-1"] = make_service("a", {"http://127.0.0.1:80"});
  auto sup = spawn_supervisor();
  REQUIRE(ask<uint64_t>(sup, start_atom::value));
  REQUIRE(ask<caf::ok_atom>(sup, stop_atom::value));
  source->services["b-1"] = make_service("b", {"http://127.0.0.2:80"});
  auto version = ask<uint64_t>(sup, start_atom::value);
  REQUIRE(version);
  CHECK(*version == 2);
  CHECK(store->load()->services.size() == 2);
}
