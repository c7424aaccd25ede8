// The admin API's listings built from per-service fragments: byte for byte
// the full serialization, whatever the versions do, with only the changed
// services serialized again.
#include <boost/json.hpp>

#include <algorithm>
#include <random>
#include <thread>

#include "admin/listing_cache.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
namespace json = boost::json;

namespace {

ServiceInfo service(const std::string& name, uint32_t weight) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back({"http://127.0.0.1:80/\"quoted\"",
                            weight,
                            EndpointHealthStatus::Healthy,
                            {{"zone", "a\\b"}}});
  info.health_status = ServiceHealthStatus::Healthy;
  info.metadata["team"] = "t\u00e9am";
  return info;
}

std::string id_of(int i) {
  char text[16];
  std::snprintf(text, sizeof text, "svc-%05d", i);
  return text;
}

/// A registry that publishes snapshots as the registry does: each version
/// a copy of the last table with some services changed.
struct registry {
  RegistrySnapshot next;

  registry(int services) {
    for (int i = 0; i < services; ++i)
      next.services.insert_or_assign(id_of(i), service(id_of(i), 1));
    next.healthy = next.services;
  }

  SnapshotPtr publish(uint64_t steps = 1) {
    next.version += steps;
    return std::make_shared<const RegistrySnapshot>(next);
  }

  void put(int i, uint32_t weight) {
    next.services.insert_or_assign(id_of(i), service(id_of(i), weight));
  }
};

/// What the server sent before the fragments: the codec's full output.
std::string full_listing(const ServiceTable& table) {
  return json::serialize(to_json(table)) + "\n";
}

std::string full_watch(const RegistrySnapshot& s) {
  return json::serialize(json::object{{"version", s.version},
                                      {"stale", s.stale},
                                      {"services", to_json(s.services)}}) +
         "\n";
}

} // namespace

TEST_CASE("listing cache: byte for byte the full serialization",
          "[listing_cache]") {
  std::mt19937 rng{14};
  registry reg{50};
  listing_cache services{services_listing()};
  listing_cache routable{routable_listing()};
  listing_cache watch{watch_listing()};
  for (int round = 0; round < 300; ++round) {
    // A few puts, changes and removes; the routable view a subset.
    int changes = std::uniform_int_distribution<int>{0, 4}(rng);
    for (int k = 0; k < changes; ++k) {
      int i = std::uniform_int_distribution<int>{0, 80}(rng);
      switch (rng() % 3) {
      case 0:
        reg.put(i, static_cast<uint32_t>(rng() % 5));
        break;
      case 1:
        reg.next.services.erase(id_of(i));
        break;
      default:
        reg.next.stale = !reg.next.stale;
      }
      if (auto record = reg.next.services.record(id_of(i)); record && i % 2)
        reg.next.healthy.insert_or_assign(record);
      else
        reg.next.healthy.erase(id_of(i));
    }
    // Mostly the next version, sometimes a gap (a reader missed some).
    auto snapshot = reg.publish(rng() % 4 == 0 ? 3 : 1);
    INFO("round " << round << ", version " << snapshot->version);
    REQUIRE(*services.body(*snapshot) == full_listing(snapshot->services));
    REQUIRE(*routable.body(*snapshot) == full_listing(snapshot->healthy));
    REQUIRE(*watch.body(*snapshot) == full_watch(*snapshot));
  }
  SECTION("an empty table") {
    reg.next.services = ServiceTable{};
    auto snapshot = reg.publish();
    CHECK(*services.body(*snapshot) == "{}\n");
    CHECK(*watch.body(*snapshot) == full_watch(*snapshot));
  }
}

TEST_CASE("listing cache: a new version serializes only what changed",
          "[listing_cache]") {
  registry reg{1000};
  listing_cache cache{services_listing()};
  auto first = reg.publish();
  cache.body(*first);
  REQUIRE(cache.fragments_serialized() == 1000);

  SECTION("one change, one serialization") {
    reg.put(500, 7);
    auto second = reg.publish();
    CHECK(*cache.body(*second) == full_listing(second->services));
    CHECK(cache.fragments_serialized() == 1001);
  }
  SECTION("a removal serializes nothing, an addition one") {
    reg.next.services.erase(id_of(3));
    auto second = reg.publish();
    CHECK(*cache.body(*second) == full_listing(second->services));
    CHECK(cache.fragments_serialized() == 1000);
    reg.put(5000, 1);
    auto third = reg.publish();
    CHECK(*cache.body(*third) == full_listing(third->services));
    CHECK(cache.fragments_serialized() == 1001);
  }
  SECTION("a gap of versions: the services changed across it") {
    reg.put(0, 2);
    reg.publish();
    reg.put(999, 2);
    reg.next.services.erase(id_of(10));
    auto later = reg.publish(5);
    CHECK(*cache.body(*later) == full_listing(later->services));
    CHECK(cache.fragments_serialized() == 1002);
  }
  SECTION("a reader with an older version than the cache's") {
    reg.put(1, 3);
    auto second = reg.publish();
    reg.put(2, 3);
    auto third = reg.publish();
    cache.body(*third);
    REQUIRE(cache.fragments_serialized() == 1002);
    // The older one serializes where it differs (service 2) and keeps
    // nothing: the next version still reuses the newer fragments.
    CHECK(*cache.body(*second) == full_listing(second->services));
    CHECK(cache.fragments_serialized() == 1003);
    reg.put(4, 3);
    auto fourth = reg.publish();
    CHECK(*cache.body(*fourth) == full_listing(fourth->services));
    CHECK(cache.fragments_serialized() == 1004);
  }
  SECTION("the same version twice is the same body") {
    CHECK(cache.body(*first) == cache.body(*first));
    CHECK(cache.fragments_serialized() == 1000);
  }
}

TEST_CASE("listing cache: concurrent readers of one version share one build",
          "[listing_cache]") {
  registry reg{2000};
  listing_cache cache{watch_listing()};
  uint64_t expected_serialized = 0;
  for (int round = 0; round < 5; ++round) {
    reg.put(round * 7, static_cast<uint32_t>(round + 2));
    auto snapshot = reg.publish();
    expected_serialized += round == 0 ? 2000 : 1;
    std::vector<std::shared_ptr<const std::string>> bodies(8);
    std::vector<std::thread> readers;
    for (auto& body : bodies)
      readers.emplace_back([&] { body = cache.body(*snapshot); });
    for (auto& reader : readers)
      reader.join();
    for (const auto& body : bodies)
      CHECK(body == bodies.front()); // the same string, built once
    CHECK(*bodies.front() == full_watch(*snapshot));
    CHECK(cache.fragments_serialized() == expected_serialized);
  }
}
