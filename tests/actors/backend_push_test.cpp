// The backend adapter with push sources: deltas, wake-ups from the source's
// own thread, unreadable values, and suspending the source on stop only.
#include "actor_fixture.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

struct push_fixture : actor_fixture {
  supervisor_actor sup;

  push_fixture() {
    source->services["api-1"] = make_service("api", {"http://127.0.0.1:80"});
    source->services["db-1"] = make_service("db", {"http://127.0.0.2:80"});
    sup = spawn_supervisor();
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  bool has(const std::string& id) {
    return store->load()->services.count(id) == 1;
  }
};

} // namespace

TEST_CASE_METHOD(push_fixture, "a delta changes only the services it names",
                 "[backend][push]") {
  backends::source_update delta;
  delta.full = false;
  delta.listing.services["new-1"] =
      make_service("new", {"http://127.0.1.1:80"});
  delta.removals.push_back("api-1");
  source->poll_update = delta;
  advance(1s);
  CHECK(has("new-1"));
  CHECK_FALSE(has("api-1"));
  CHECK(has("db-1")); // untouched
}

TEST_CASE_METHOD(push_fixture,
                 "a wake-up from the source polls at once, not at the tick",
                 "[backend][push]") {
  REQUIRE(source->notify);
  backends::source_update delta;
  delta.full = false;
  delta.listing.services["new-1"] =
      make_service("new", {"http://127.0.1.1:80"});
  source->poll_update = delta;
  source->notify(); // as the watch thread does
  sched.run();      // no simulated time passes
  CHECK(has("new-1"));
}

TEST_CASE_METHOD(push_fixture,
                 "a listing's unreadable ids keep what the registry knew",
                 "[backend][push]") {
  auto before = store->load()->services.at("api-1");
  backends::source_update listing;
  listing.listing.services["db-1"] =
      make_service("db", {"http://127.0.0.2:80"});
  listing.listing.unreadable = {"api-1", "never-seen"};
  source->poll_update = listing;
  advance(1s);
  REQUIRE(has("api-1"));
  CHECK(store->load()->services.at("api-1") == before);
  CHECK(has("db-1"));
  CHECK_FALSE(has("never-seen"));
}

TEST_CASE_METHOD(push_fixture,
                 "stop suspends the source, a crashed adapter does not",
                 "[backend][push]") {
  auto backend = children(sup).second;
  caf::anon_send_exit(backend, caf::exit_reason::unhandled_exception);
  sched.run();
  CHECK(source->suspends == 0);
  run_for(1s); // restarted with backoff
  CHECK(children(sup).second);
  CHECK(ask<caf::ok_atom>(sup, stop_atom::value));
  CHECK(source->suspends == 1);
}
