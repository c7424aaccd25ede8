// The supervisor follows the registry's change sets: a snapshot that
// directly follows the last one it saw moves probes by its endpoint
// changes alone; after a gap it compares every endpoint.
#include "actor_fixture.hpp"

#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

const std::string url_a = "http://127.0.0.1:80";
const std::string url_b = "http://127.0.0.2:80";
const std::string url_c = "http://127.0.0.3:80";

struct reconcile_fixture : actor_fixture {
  supervisor_actor sup;

  reconcile_fixture() {
    script->responder = [](const std::string&) { return answer_status(200); };
    source->services["api-1"] = make_service("api", {url_a});
    sup = spawn_supervisor(make_probing_options(test_probe_settings()));
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  uint64_t last_version = 0; // of the last snapshot delivered

  /// A snapshot `ahead` versions after the last one delivered (or the
  /// store's current one) that lists
  /// api-1 with `api_urls` and ghost-1 (which no change set mentions),
  /// carrying `changes`.
  SnapshotPtr crafted(uint64_t ahead, std::vector<std::string> api_urls,
                      RegistryChanges changes) {
    auto current = store->current();
    auto next = std::make_shared<RegistrySnapshot>(*current);
    next->version = std::max(last_version, current->version) + ahead;
    next->services.insert_or_assign("api-1",
                                    make_service("api", std::move(api_urls)));
    next->services.insert_or_assign("ghost-1", make_service("ghost", {url_c}));
    next->changes = std::move(changes);
    return next;
  }

  /// Hands `snapshot` to the supervisor as the registry would.
  void deliver(SnapshotPtr snapshot) {
    last_version = std::max(last_version, snapshot->version);
    caf::anon_send(sup, changed_atom::value, std::move(snapshot));
    sched.run();
  }
};

using endpoints = std::vector<std::string>;

} // namespace

TEST_CASE_METHOD(reconcile_fixture,
                 "reconcile: the next version moves probes by its endpoint "
                 "changes only",
                 "[supervisor][changes]") {
  REQUIRE(probed_endpoints(sup) == endpoints{"api-1 " + url_a});
  RegistryChanges grow;
  grow.changed = {"api-1"};
  grow.endpoints_added = {{"api-1", url_b}};
  deliver(crafted(1, {url_a, url_b}, grow));
  // ghost-1 is in the services but in no change set: not probed, which
  // shows that the supervisor did not compare every endpoint.
  CHECK(probed_endpoints(sup) == endpoints{"api-1 " + url_a, "api-1 " + url_b});
  CHECK(metrics->read().active_probes == 2);

  RegistryChanges shrink;
  shrink.changed = {"api-1"};
  shrink.endpoints_removed = {{"api-1", url_a}};
  deliver(crafted(1, {url_b}, shrink));
  CHECK(probed_endpoints(sup) == endpoints{"api-1 " + url_b});
  CHECK(metrics->read().active_probes == 1);
}

TEST_CASE_METHOD(reconcile_fixture,
                 "reconcile: after missed versions every endpoint is compared",
                 "[supervisor][changes]") {
  deliver(crafted(3, {url_b}, RegistryChanges{}));
  CHECK(probed_endpoints(sup) ==
        endpoints{"api-1 " + url_b, "ghost-1 " + url_c});
}

TEST_CASE_METHOD(reconcile_fixture,
                 "reconcile: a version already seen changes nothing",
                 "[supervisor][changes]") {
  RegistryChanges grow;
  grow.endpoints_added = {{"api-1", url_b}};
  auto stale = crafted(0, {url_a, url_b}, grow);
  deliver(stale);
  CHECK(probed_endpoints(sup) == endpoints{"api-1 " + url_a});
}

TEST_CASE_METHOD(reconcile_fixture,
                 "reconcile: the registry's own change sets start and stop "
                 "probes as the backend changes",
                 "[supervisor][changes]") {
  backends::source_update grow;
  grow.full = false;
  grow.listing.services["api-1"] = make_service("api", {url_a, url_b});
  grow.listing.services["db-1"] = make_service("db", {url_c});
  source->poll_update = grow;
  source->notify(); // as a watch thread does
  sched.run();
  CHECK(probed_endpoints(sup) ==
        endpoints{"api-1 " + url_a, "api-1 " + url_b, "db-1 " + url_c});
  backends::source_update drop;
  drop.full = false;
  drop.removals = {"api-1"};
  source->poll_update = drop;
  source->notify();
  sched.run();
  CHECK(probed_endpoints(sup) == endpoints{"db-1 " + url_c});
}
