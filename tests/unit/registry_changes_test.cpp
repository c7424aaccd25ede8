// What changed between versions of the registry (what the admin API's
// watch sends a reader that holds an older version).
#include "messages/registry_changes.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

ServiceInfo service(const std::string& name, const std::string& url) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back({url, 1, EndpointHealthStatus::Healthy, {}});
  return info;
}

using ids = std::vector<std::string>;

/// Version `number` holding `services`, with the change set the registry
/// would publish after `before`.
SnapshotPtr version(uint64_t number, const ServiceMap& services,
                    const ServiceMap& before = {}) {
  auto snapshot = std::make_shared<RegistrySnapshot>();
  snapshot->version = number;
  snapshot->services = ServiceTable{services};
  auto diff = diff_services(before, services);
  for (auto& id : diff.changed)
    (before.count(id) > 0 ? snapshot->changes.changed : snapshot->changes.added)
        .push_back(id);
  snapshot->changes.removed = diff.removed;
  return snapshot;
}

} // namespace

TEST_CASE("service diff: added, changed and removed ids, in id order",
          "[registry_changes]") {
  ServiceMap before{{"a", service("a", "http://127.0.0.1:1")},
                    {"b", service("b", "http://127.0.0.1:2")},
                    {"c", service("c", "http://127.0.0.1:3")},
                    {"e", service("e", "http://127.0.0.1:5")}};
  auto after = before;
  after.erase("a");
  after["b"].endpoints[0].health_status = EndpointHealthStatus::Unhealthy;
  after["d"] = service("d", "http://127.0.0.1:4");
  after.erase("e");
  after["f"] = service("f", "http://127.0.0.1:6");
  auto diff = diff_services(before, after);
  CHECK(diff.changed == ids{"b", "d", "f"});
  CHECK(diff.removed == ids{"a", "e"});
}

TEST_CASE("service diff: equal maps and empty maps", "[registry_changes]") {
  ServiceMap some{{"a", service("a", "http://127.0.0.1:1")}};
  CHECK(diff_services(some, some).changed.empty());
  CHECK(diff_services(some, some).removed.empty());
  CHECK(diff_services({}, some).changed == ids{"a"});
  CHECK(diff_services(some, {}).removed == ids{"a"});
  CHECK(diff_services({}, {}).changed.empty());
}

TEST_CASE("registry changes: the ids changed since a version, over several "
          "steps",
          "[registry_changes]") {
  registry_changes changes{8};
  ServiceMap services{{"a", service("a", "http://127.0.0.1:1")},
                      {"b", service("b", "http://127.0.0.1:2")}};
  CHECK_FALSE(changes.since(0));
  changes.record(version(5, services));
  CHECK(changes.last_version() == 5);
  CHECK(changes.since(5) == ids{}); // nothing since
  CHECK_FALSE(changes.since(4));    // before the first recorded version
  CHECK_FALSE(changes.since(6));    // not reached yet

  auto before = services;
  services["a"].name = "a2";
  changes.record(version(6, services, before));
  before = services;
  services.erase("b");
  services["c"] = service("c", "http://127.0.0.1:3");
  changes.record(version(7, services, before));
  CHECK(changes.since(6) == ids{"b", "c"});
  CHECK(changes.since(5) == ids{"a", "b", "c"});
  CHECK_FALSE(changes.since(4));
}

TEST_CASE("registry changes: bounded to the last steps, and a gap starts "
          "over",
          "[registry_changes]") {
  registry_changes changes{3};
  ServiceMap services;
  changes.record(version(1, services));
  for (uint64_t v = 2; v <= 6; ++v) {
    auto before = services;
    services["s" + std::to_string(v)] = service("s", "http://127.0.0.1:1");
    changes.record(version(v, services, before));
  }
  // Steps to 4, 5 and 6 are kept, not the one to 3.
  CHECK(changes.since(3) == ids{"s4", "s5", "s6"});
  CHECK_FALSE(changes.since(2));

  // A version that does not follow the last: nothing before it is known.
  changes.record(version(9, services));
  CHECK(changes.since(9) == ids{});
  CHECK_FALSE(changes.since(6));
  // The same version again changes nothing.
  changes.record(version(9, services));
  CHECK(changes.since(9) == ids{});

  changes.clear();
  CHECK(changes.last_version() == 0);
  CHECK_FALSE(changes.since(9));
}
