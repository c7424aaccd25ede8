// service_discovery.limits in the backend adapter: a listing over a limit is
// refused whole (the last good services stay), a change over a limit is
// dropped for its service only, a registration over a limit is refused
// before it reaches the backend; every refusal is counted.
#include "actor_fixture.hpp"

#include <atomic>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

/// At most 3 services and 5 endpoints.
struct limits_fixture : actor_fixture {
  supervisor_actor sup;
  std::shared_ptr<std::atomic<uint64_t>> refusals =
      std::make_shared<std::atomic<uint64_t>>(0);

  limits_fixture() {
    source->services["a-1"] = make_service("a", {"http://127.0.0.1:80"});
    source->services["b-1"] =
        make_service("b", {"http://127.0.0.2:80", "http://127.0.0.3:80"});
    auto options = make_options();
    options.backend.limits = backend_limits{3, 5};
    options.backend.limit_refusals = refusals;
    sup = spawn_supervisor(options);
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
  }

  bool has(const std::string& id) {
    return store->load()->services.count(id) == 1;
  }

  static ServiceInfo with_endpoints(const std::string& name, int count) {
    std::vector<std::string> urls;
    for (int i = 0; i < count; ++i)
      urls.push_back("http://127.1.0." + std::to_string(i + 1) + ":80");
    return make_service(name, urls);
  }

  void push(backends::source_update update) {
    source->poll_update = std::move(update);
    advance(1s);
  }
};

} // namespace

TEST_CASE("limit tracker: counts, checks and filters", "[limits]") {
  limit_tracker tracker{backend_limits{2, 4}};
  ServiceMap listing{{"a", make_service("a", {"http://h:1", "http://h:2"})},
                     {"b", make_service("b", {"http://h:3"})}};
  CHECK_FALSE(tracker.check_listing(listing, {}));
  tracker.accept_listing(listing, {});
  CHECK(tracker.services() == 2);
  CHECK(tracker.endpoints() == 3);
  // Replacing a service counts its new endpoints instead of its old ones.
  CHECK_FALSE(tracker.check_upsert(
      "a", make_service("a", {"http://h:1", "http://h:2", "http://h:4"})));
  CHECK(error_message(tracker.check_upsert(
            "a", make_service("a", {"http://h:1", "http://h:2", "http://h:4",
                                    "http://h:5"}))) ==
        "service \"a\" would make 5 endpoints, over "
        "service_discovery.limits.max_endpoints (4)");
  CHECK(error_message(tracker.check_upsert("c", make_service("c", {}))) ==
        "service \"c\" would be service 3, over "
        "service_discovery.limits.max_services (2)");
  // Removals apply first, so a delta may swap one service for another.
  ServiceMap upserts{{"c", make_service("c", {"http://h:6"})}};
  CHECK(tracker.filter_delta(upserts, {"b"}).empty());
  CHECK(upserts.count("c") == 1);
  CHECK(tracker.services() == 2);
  CHECK(tracker.endpoints() == 3);
  // An unreadable id keeps its count across a listing, and counts in the
  // check of the next one.
  tracker.accept_listing({{"a", make_service("a", {"http://h:1"})}}, {"c"});
  CHECK(tracker.services() == 2);
  CHECK(tracker.endpoints() == 2);
  ServiceMap two{{"a", make_service("a", {"http://h:1"})},
                 {"d", make_service("d", {"http://h:7"})}};
  CHECK(error_message(tracker.check_listing(two, {"c"})) ==
        "the listing has 3 services, over "
        "service_discovery.limits.max_services (2)");
  // An id both listed and unreadable (Consul hands the last good value of
  // a service it could not read again) counts once, as listed.
  ServiceMap again{{"a", make_service("a", {"http://h:1"})},
                   {"c", make_service("c", {"http://h:6", "http://h:8"})}};
  CHECK_FALSE(tracker.check_listing(again, {"c"}));
  tracker.accept_listing(again, {"c"});
  CHECK(tracker.services() == 2);
  CHECK(tracker.endpoints() == 3);
}

TEST_CASE_METHOD(limits_fixture,
                 "limits: a listing over max_services is refused, the last "
                 "good services stay",
                 "[limits][backend]") {
  auto before = store->load()->version;
  backends::source_update listing;
  for (auto id : {"a-1", "b-1", "c-1", "d-1"})
    listing.listing.services[id] = make_service(id, {});
  push(listing);
  CHECK(store->load()->version == before);
  CHECK(has("a-1"));
  CHECK(has("b-1"));
  CHECK_FALSE(has("c-1"));
  CHECK(refusals->load() == 1);
  // A listing within the limits applies as usual.
  listing.listing.services.erase("d-1");
  push(listing);
  CHECK(has("c-1"));
  CHECK(refusals->load() == 1);
}

TEST_CASE_METHOD(limits_fixture,
                 "limits: a listing over max_endpoints fails a reload with "
                 "the limit named",
                 "[limits][backend]") {
  source->services["c-1"] = with_endpoints("c", 3); // 6 endpoints in all
  auto reloaded = ask<uint64_t>(sup, reload_atom::value);
  REQUIRE_FALSE(reloaded);
  CHECK(error_message(reloaded.error()) ==
        "the listing has 6 endpoints, over "
        "service_discovery.limits.max_endpoints (5)");
  CHECK_FALSE(has("c-1"));
  CHECK(refusals->load() == 1);
}

TEST_CASE_METHOD(limits_fixture,
                 "limits: a change over a limit is dropped for its service "
                 "only",
                 "[limits][backend]") {
  auto a_before = store->load()->services.at("a-1");
  backends::source_update delta;
  delta.full = false;
  delta.listing.services["a-1"] = with_endpoints("a", 4); // 2 + 4 > 5
  delta.listing.services["c-1"] = make_service("c", {"http://127.0.0.9:80"});
  push(delta);
  CHECK(store->load()->services.at("a-1") == a_before);
  CHECK(has("c-1"));
  CHECK(refusals->load() == 1);
  // A fourth service is over max_services; removing one makes room.
  delta.listing.services.clear();
  delta.listing.services["d-1"] = make_service("d", {});
  push(delta);
  CHECK_FALSE(has("d-1"));
  delta.removals = {"c-1"};
  push(delta);
  CHECK(has("d-1"));
  CHECK_FALSE(has("c-1"));
  CHECK(refusals->load() == 2);
}

TEST_CASE_METHOD(limits_fixture,
                 "limits: a restarted adapter keeps counting what the "
                 "registry holds",
                 "[limits][backend]") {
  auto backend = children(sup).second;
  caf::anon_send_exit(backend, caf::exit_reason::unhandled_exception);
  sched.run();
  // The new adapter's first listing is refused: the registry keeps a-1
  // and b-1 (3 endpoints), and changes are still checked against them.
  source->services["c-1"] = with_endpoints("c", 3); // 6 endpoints in all
  run_for(1s);
  REQUIRE(children(sup).second);
  CHECK_FALSE(has("c-1"));
  auto refused = ask<uint64_t>(sup, register_atom::value, std::string{"d-1"},
                               with_endpoints("d", 3)); // 3 + 3 > 5
  CHECK_FALSE(refused);
  CHECK_FALSE(has("d-1"));
  CHECK(source->services.count("d-1") == 0);
}

TEST_CASE_METHOD(limits_fixture,
                 "limits: a registration over a limit is refused before the "
                 "backend sees it",
                 "[limits][backend]") {
  auto refused = ask<uint64_t>(sup, register_atom::value, std::string{"c-1"},
                               with_endpoints("c", 3));
  REQUIRE_FALSE(refused);
  CHECK(error_message(refused.error()) ==
        "service \"c-1\" would make 6 endpoints, over "
        "service_discovery.limits.max_endpoints (5)");
  CHECK(source->services.count("c-1") == 0);
  CHECK(refusals->load() == 1);
  // Within the limits it goes through, and counts against them.
  REQUIRE(ask<uint64_t>(sup, register_atom::value, std::string{"c-1"},
                        with_endpoints("c", 2)));
  CHECK(has("c-1"));
  auto fourth = ask<uint64_t>(sup, register_atom::value, std::string{"d-1"},
                              make_service("d", {}));
  REQUIRE_FALSE(fourth);
  CHECK(error_message(fourth.error()) ==
        "service \"d-1\" would be service 4, over "
        "service_discovery.limits.max_services (3)");
  // A deregistration frees its share.
  REQUIRE(ask<uint64_t>(sup, deregister_atom::value, std::string{"c-1"}));
  CHECK(ask<uint64_t>(sup, register_atom::value, std::string{"d-1"},
                      make_service("d", {})));
}

TEST_CASE("forwarded services: a full listing's changes by fingerprint",
          "[limits][relist]") {
  limit_tracker tracker;
  ServiceMap listing{{"a", make_service("a", {"http://127.0.0.1:1"})},
                     {"b", make_service("b", {"http://127.0.0.1:2"})},
                     {"c", make_service("c", {"http://127.0.0.1:3"})}};
  auto first = tracker.changes_to(listing, {});
  CHECK(first.upserted == std::vector<std::string>{"a", "b", "c"});
  CHECK(first.removed.empty());
  tracker.accept_listing(listing, {});
  CHECK(tracker.changes_to(listing, {}).upserted.empty());

  auto next = listing;
  next["a"].endpoints[0].weight = 2; // any field counts
  next["b"].metadata["zone"] = "z1";
  next.erase("c");
  next["d"] = make_service("d", {"http://127.0.0.1:4"});
  auto changes = tracker.changes_to(next, {});
  CHECK(changes.upserted == std::vector<std::string>{"a", "b", "d"});
  CHECK(changes.removed == std::vector<std::string>{"c"});
  // An unreadable id is neither removed nor upserted.
  next.erase("b");
  changes = tracker.changes_to(next, {"b"});
  CHECK(changes.upserted == std::vector<std::string>{"a", "d"});
  CHECK(changes.removed == std::vector<std::string>{"c"});
}

TEST_CASE("forwarded services: fingerprints tell apart what equality does",
          "[limits][relist]") {
  auto base = make_service("a", {"http://127.0.0.1:1", "http://127.0.0.1:2"});
  auto same = base;
  CHECK(service_fingerprint(base) == service_fingerprint(same));
  std::vector<ServiceInfo> variants(8, base);
  variants[0].name = "b";
  variants[1].health_status = ServiceHealthStatus::Healthy;
  variants[2].metadata["k"] = "v";
  variants[3].endpoints[1].url = "http://127.0.0.1:3";
  variants[4].endpoints[0].health_status = EndpointHealthStatus::Healthy;
  variants[5].endpoints[0].degraded = true;
  variants[6].endpoints[1].metadata["k"] = "v";
  std::swap(variants[7].endpoints[0], variants[7].endpoints[1]); // order
  for (const auto& variant : variants)
    CHECK(service_fingerprint(variant) != service_fingerprint(base));
  // Metadata that moves between a key and its value is a change too.
  auto split_one = base;
  split_one.metadata["ab"] = "c";
  auto split_two = base;
  split_two.metadata["a"] = "bc";
  CHECK(service_fingerprint(split_one) != service_fingerprint(split_two));
}

TEST_CASE_METHOD(limits_fixture,
                 "a periodic re-listing reaches the registry as its changes "
                 "only",
                 "[limits][relist]") {
  auto before = store->load();
  source->services["b-1"].metadata["zone"] = "z1"; // the watch missed it
  run_for(31s, 1s);
  auto after = store->load();
  CHECK(after->version == before->version + 1);
  CHECK(after->changes.changed == std::vector<std::string>{"b-1"});
  CHECK(after->services.at("b-1").metadata.at("zone") == "z1");
  CHECK(after->services.record("a-1") == before->services.record("a-1"));
  // Nothing changed since: the next re-listing publishes nothing.
  run_for(31s, 1s);
  CHECK(store->load()->version == after->version);
}
