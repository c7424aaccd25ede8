// The persistent service table: reads like an ordered map, copies share
// every record, and changes touch only what they change.
#include <random>

#include "messages/service_table.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

ServiceInfo service(const std::string& name, uint32_t weight = 1) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back(
      {"http://127.0.0.1:80", weight, EndpointHealthStatus::Healthy, {}});
  return info;
}

std::string id_of(int i) {
  char text[16];
  std::snprintf(text, sizeof text, "svc-%06d", i);
  return text;
}

/// Every id of `table` in iteration order.
std::vector<std::string> ids_of(const ServiceTable& table) {
  std::vector<std::string> ids;
  for (const auto& [id, info] : table)
    ids.push_back(id);
  return ids;
}

} // namespace

TEST_CASE("service table: reads like an ordered map", "[service_table]") {
  ServiceMap map{{"b", service("b")}, {"a", service("a")}, {"c", service("c")}};
  ServiceTable table{map};
  CHECK(table.size() == 3);
  CHECK_FALSE(table.empty());
  CHECK(ids_of(table) == std::vector<std::string>{"a", "b", "c"});
  CHECK(table.at("b").name == "b");
  CHECK(table.count("c") == 1);
  CHECK(table.count("d") == 0);
  CHECK(table.find("d") == table.end());
  CHECK(table.find("a")->second.name == "a");
  CHECK_THROWS_AS(table.at("d"), std::out_of_range);
  CHECK(table.entry("d") == nullptr);
  CHECK(table.to_map() == map);
  CHECK(ServiceTable{}.empty());
  CHECK(ServiceTable{}.begin() == ServiceTable{}.end());
}

TEST_CASE("service table: a copy is independent and shares unchanged records",
          "[service_table]") {
  ServiceMap map;
  for (int i = 0; i < 1000; ++i)
    map[id_of(i)] = service(id_of(i));
  ServiceTable before{map};
  auto after = before;
  after.insert_or_assign(id_of(500), service("changed"));
  after.erase(id_of(7));
  after.insert_or_assign("zzz", service("new"));

  CHECK(before.to_map() == map); // the original did not move
  CHECK(before.at(id_of(500)).name == id_of(500));
  CHECK(after.at(id_of(500)).name == "changed");
  CHECK(after.count(id_of(7)) == 0);
  CHECK(after.size() == 1000);
  // Every record the change did not touch is the same object in both.
  for (int i = 0; i < 1000; ++i)
    if (i != 500 && i != 7)
      CHECK(after.record(id_of(i)) == before.record(id_of(i)));
  CHECK(before != after);
  auto again = after;
  CHECK(again == after);
}

TEST_CASE("service table: an entry outlives its table", "[service_table]") {
  ServiceEntry entry;
  {
    ServiceTable table{ServiceMap{{"a", service("kept", 7)}}};
    entry = table.entry("a");
  }
  REQUIRE(entry != nullptr);
  CHECK(entry->name == "kept");
  CHECK(entry->endpoints.at(0).weight == 7);
}

TEST_CASE("service table: random inserts and erases match std::map",
          "[service_table]") {
  // Enough ids that chunks split and merge many times over.
  std::mt19937 random{42};
  std::uniform_int_distribution<int> pick_id{0, 3000};
  std::uniform_int_distribution<int> pick_action{0, 2};
  ServiceMap model;
  ServiceTable table;
  std::vector<ServiceTable> versions;
  std::vector<ServiceMap> models;
  for (int step = 0; step < 20'000; ++step) {
    auto id = id_of(pick_id(random));
    if (pick_action(random) == 0) {
      CHECK(table.erase(id) == (model.erase(id) > 0));
    } else {
      auto info = service(id, static_cast<uint32_t>(step));
      model[id] = info;
      table.insert_or_assign(id, info);
    }
    if (step % 2000 == 0) {
      versions.push_back(table); // older versions must not move later
      models.push_back(model);
    }
  }
  CHECK(table.size() == model.size());
  CHECK(table.to_map() == model);
  for (const auto& [id, info] : model)
    CHECK(table.at(id) == info);
  for (size_t i = 0; i < versions.size(); ++i)
    CHECK(versions[i].to_map() == models[i]);
  // Erasing everything leaves an empty table.
  for (const auto& [id, info] : model)
    CHECK(table.erase(id));
  CHECK(table.empty());
  CHECK(table.begin() == table.end());
}
