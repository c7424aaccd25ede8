// The registry's change sets: what each publication says it changed
// (services added, changed, removed; endpoints added and removed), and that
// a publication shares every service it did not change.
#include "actors/registry_view.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using H = EndpointHealthStatus;

namespace {

using ids = std::vector<std::string>;
using keys = std::vector<endpoint_key>;

ServiceInfo service(const std::string& name, std::vector<std::string> urls,
                    H status = H::Healthy) {
  ServiceInfo info;
  info.name = name;
  for (auto& url : urls)
    info.endpoints.push_back({url, 1, status, {}});
  return info;
}

const std::string url_1 = "http://127.0.0.1:80";
const std::string url_2 = "http://127.0.0.2:80";
const std::string url_3 = "http://127.0.0.3:80";

/// A view that listed a, b and c (one endpoint each, declared Healthy),
/// changes taken.
registry_view listed_view(health_merge_rules rules = {}) {
  registry_view view{rules};
  view.replace_backend({{"a", service("a", {url_1})},
                        {"b", service("b", {url_2})},
                        {"c", service("c", {url_3})}},
                       {}, true);
  view.take_changes();
  return view;
}

backend_delta upsert(const std::string& id, ServiceInfo info) {
  backend_delta delta;
  delta.upserts.emplace(id, std::move(info));
  return delta;
}

} // namespace

TEST_CASE("registry view: the first listing adds every service and endpoint",
          "[registry][changes]") {
  registry_view view{{}};
  view.replace_backend(
      {{"b", service("b", {url_2, url_1})}, {"a", service("a", {url_1})}}, {},
      true);
  auto changes = view.take_changes();
  CHECK(changes.added == ids{"a", "b"});
  CHECK(changes.changed.empty());
  CHECK(changes.removed.empty());
  CHECK(changes.endpoints_added ==
        keys{{"a", url_1}, {"b", url_1}, {"b", url_2}});
  CHECK(changes.endpoints_removed.empty());
  CHECK(view.services().size() == 2);
  CHECK(view.routable().size() == 2);
  CHECK(view.take_changes().empty()); // taken: nothing left
}

TEST_CASE("registry view: a delta says which services and endpoints changed",
          "[registry][changes]") {
  auto view = listed_view();
  auto before = view.services();

  auto grow = upsert("a", service("a", {url_1, url_2}));
  view.apply_delta(grow);
  backend_delta drop;
  drop.removals = {"b"};
  view.apply_delta(drop);
  auto fresh = upsert("d", service("d", {url_3}));
  view.apply_delta(fresh);
  auto changes = view.take_changes();
  CHECK(changes.added == ids{"d"});
  CHECK(changes.changed == ids{"a"});
  CHECK(changes.removed == ids{"b"});
  CHECK(changes.endpoints_added == keys{{"a", url_2}, {"d", url_3}});
  CHECK(changes.endpoints_removed == keys{{"b", url_2}});
  // The untouched service is the very same record in both versions.
  CHECK(view.services().record("c") == before.record("c"));
  CHECK(before.count("b") == 1); // the older version did not move
}

TEST_CASE("registry view: a delta that changes nothing publishes nothing",
          "[registry][changes]") {
  auto view = listed_view();
  auto same = upsert("a", service("a", {url_1}));
  auto generation = view.backend_generation();
  view.apply_delta(same);
  CHECK(view.take_changes().empty());
  CHECK(view.backend_generation() == generation);
}

TEST_CASE("registry view: an endpoint added and removed between publications "
          "is no change",
          "[registry][changes]") {
  auto view = listed_view();
  auto grow = upsert("a", service("a", {url_1, url_2}));
  view.apply_delta(grow);
  auto shrink = upsert("a", service("a", {url_1}));
  view.apply_delta(shrink);
  auto changes = view.take_changes();
  CHECK(changes.endpoints_added.empty());
  CHECK(changes.endpoints_removed.empty());
  CHECK(changes.changed.empty()); // same as published
}

TEST_CASE("registry view: a verdict changes its service and the routable "
          "view, not the endpoints",
          "[registry][changes]") {
  auto view = listed_view({true, false}); // probed: all Unknown so far
  CHECK(view.routable().empty());
  CHECK(view.set_verdict({"b", url_2}, {H::Healthy, false}));
  CHECK_FALSE(view.set_verdict({"b", url_2}, {H::Healthy, false}));
  auto changes = view.take_changes();
  CHECK(changes.changed == ids{"b"});
  CHECK(changes.added.empty());
  CHECK(changes.endpoints_added.empty());
  CHECK(view.services().at("b").health_status == ServiceHealthStatus::Healthy);
  CHECK(view.routable().count("b") == 1);
  // A fully routable service is shared, not copied, by the routable view.
  CHECK(view.routable().record("b") == view.services().record("b"));

  view.set_verdict({"b", url_2}, {H::Unhealthy, false});
  CHECK(view.take_changes().changed == ids{"b"});
  CHECK(view.routable().empty());
}

TEST_CASE("registry view: a re-listing compares and changes only what "
          "differs",
          "[registry][changes]") {
  auto view = listed_view();
  auto before = view.services();
  auto generation = view.backend_generation();
  view.replace_backend({{"a", service("a", {url_1})},
                        {"c", service("c", {url_3, url_1})},
                        {"e", service("e", {url_2})}},
                       {}, false);
  auto changes = view.take_changes();
  CHECK(changes.added == ids{"e"});
  CHECK(changes.changed == ids{"c"});
  CHECK(changes.removed == ids{"b"});
  CHECK(changes.endpoints_added == keys{{"c", url_1}, {"e", url_2}});
  CHECK(changes.endpoints_removed == keys{{"b", url_2}});
  CHECK(view.services().record("a") == before.record("a"));
  CHECK(view.backend_generation() == generation + 1);

  // The same listing again: nothing.
  view.replace_backend({{"a", service("a", {url_1})},
                        {"c", service("c", {url_3, url_1})},
                        {"e", service("e", {url_2})}},
                       {}, false);
  CHECK(view.take_changes().empty());
  CHECK(view.backend_generation() == generation + 1);
}

TEST_CASE("registry view: an unreadable value keeps the last good one",
          "[registry][changes]") {
  auto view = listed_view();
  view.replace_backend({{"a", service("a", {url_1})}}, {"b"}, false);
  auto changes = view.take_changes();
  CHECK(changes.removed == ids{"c"});
  CHECK(view.services().count("b") == 1);
}

TEST_CASE("registry view: a restarted registry's first listing is told "
          "relative to what its predecessor published",
          "[registry][changes]") {
  RegistrySnapshot published;
  published.version = 7;
  {
    auto old = listed_view();
    published.services = old.services();
    published.healthy = old.routable();
  }
  registry_view view{{}};
  view.start_from(published);
  view.replace_backend(
      {{"a", service("a", {url_1})}, {"b", service("b", {url_2, url_3})}}, {},
      true);
  auto changes = view.take_changes();
  CHECK(changes.added.empty());
  CHECK(changes.changed == ids{"b"});
  CHECK(changes.removed == ids{"c"});
  CHECK(changes.endpoints_added == keys{{"b", url_3}});
  CHECK(changes.endpoints_removed == keys{{"c", url_3}});
  CHECK(view.services().record("a") == published.services.record("a"));
}

TEST_CASE("registry view: verdicts of endpoints that leave are dropped",
          "[registry][changes]") {
  auto view = listed_view({true, false});
  view.set_verdict({"a", url_1}, {H::Healthy, false});
  view.take_changes();
  backend_delta drop;
  drop.removals = {"a"};
  view.apply_delta(drop);
  CHECK(view.take_changes().endpoints_removed == keys{{"a", url_1}});
  CHECK(view.verdicts().count({"a", url_1}) == 0);
  auto back = upsert("a", service("a", {url_1}));
  view.apply_delta(back);
  CHECK(view.take_changes().endpoints_added == keys{{"a", url_1}});
  // It starts from Unknown again, not from the old verdict.
  CHECK(view.services().at("a").endpoints.at(0).health_status == H::Unknown);
}

TEST_CASE("registry view: an endpoint that leaves and comes back within one "
          "publication keeps its verdict, as the supervisor keeps its probe",
          "[registry][changes]") {
  auto view = listed_view({true, false});
  view.set_verdict({"a", url_1}, {H::Healthy, false});
  view.take_changes();
  // One delta that removes and re-adds a, and the same over two deltas.
  auto both = upsert("a", service("a", {url_1}));
  both.removals = {"a"};
  view.apply_delta(both);
  auto changes = view.take_changes();
  CHECK(changes.endpoints_added.empty());
  CHECK(changes.endpoints_removed.empty());
  CHECK(view.services().at("a").endpoints.at(0).health_status == H::Healthy);
  backend_delta drop;
  drop.removals = {"a"};
  view.apply_delta(drop);
  auto back = upsert("a", service("a", {url_1}));
  view.apply_delta(back);
  changes = view.take_changes();
  CHECK(changes.endpoints_added.empty());
  CHECK(changes.endpoints_removed.empty());
  CHECK(view.services().at("a").endpoints.at(0).health_status == H::Healthy);
  CHECK(view.routable().count("a") == 1);
}

TEST_CASE("registry view: deltas taken before a restarted registry's first "
          "listing add no endpoint the listing lacks",
          "[registry][changes]") {
  RegistrySnapshot published;
  published.version = 3;
  {
    auto old = listed_view();
    published.services = old.services();
    published.healthy = old.routable();
  }
  registry_view view{{}};
  view.start_from(published);
  // A poll's delta reaches the new registry before its listing.
  auto early = upsert("x", service("x", {url_2}));
  view.apply_delta(early);
  view.replace_backend({{"a", service("a", {url_1})},
                        {"b", service("b", {url_2})},
                        {"c", service("c", {url_3})}},
                       {}, true);
  auto changes = view.take_changes();
  CHECK(changes.endpoints_added.empty());
  CHECK(changes.endpoints_removed.empty());
  CHECK(changes.added.empty());
  CHECK(view.services().count("x") == 0);
}
