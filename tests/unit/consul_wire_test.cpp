// Consul's answers as orasi reads them (shapes and casing as Consul's API
// documentation shows them, with fields orasi ignores), the mapping to
// ServiceInfo, and the registration bodies orasi writes.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "backends/consul_wire.hpp"
#include "messages/errors.hpp"

using namespace orasi;
using namespace orasi::backends;
namespace json = boost::json;

namespace {

// Two instances of "web": one with its own address and a warning check,
// one without (Node.Address applies) and all checks passing.
const std::string two_instances = R"([
 {"Node":{"ID":"40e4a748","Node":"node1","Address":"127.1.0.1","Datacenter":"dc1",
   "TaggedAddresses":{"lan":"127.1.0.1"},"Meta":{},"CreateIndex":5,"ModifyIndex":5},
  "Service":{"ID":"web-b","Service":"web","Tags":["v1"],"Address":"",
   "TaggedAddresses":{},"Meta":{},"Port":8081,"Weights":{"Passing":3,"Warning":1},
   "EnableTagOverride":false,"Proxy":{},"Connect":{},"Namespace":"default",
   "CreateIndex":12,"ModifyIndex":12},
  "Checks":[{"Node":"node1","CheckID":"serfHealth","Status":"passing","ServiceID":""},
            {"Node":"node1","CheckID":"service:web-b","Status":"passing","ServiceID":"web-b"}]},
 {"Node":{"Node":"node2","Address":"127.1.0.2"},
  "Service":{"ID":"web-a","Service":"web","Tags":[],"Address":"127.0.0.9",
   "Meta":{"scheme":"https","zone":"a"},"Port":8443},
  "Checks":[{"CheckID":"serfHealth","Status":"passing"},
            {"CheckID":"service:web-a","Status":"warning"}]}
])";

} // namespace

TEST_CASE("consul: health entries become endpoints", "[consul][wire]") {
  size_t skipped = 0;
  auto instances = consul::decode_health(two_instances, skipped);
  REQUIRE(instances);
  CHECK(skipped == 0);
  REQUIRE(instances->size() == 2);
  CHECK((*instances)[0].address == "127.1.0.1"); // Node.Address fallback
  CHECK((*instances)[1].status == "warning");

  auto info = consul::to_service_info("web", std::move(*instances));
  CHECK(info.name == "web");
  REQUIRE(info.endpoints.size() == 2);
  // Sorted by instance ID: web-a first.
  const auto& a = info.endpoints[0];
  CHECK(a.url == "https://127.0.0.9:8443");
  CHECK(a.health_status == EndpointHealthStatus::Healthy);
  CHECK(a.degraded);                            // warning
  CHECK(a.metadata == Metadata{{"zone", "a"}}); // "scheme" is the URL's
  const auto& b = info.endpoints[1];
  CHECK(b.url == "http://127.1.0.1:8081");
  CHECK(b.weight == 3);
  CHECK_FALSE(b.degraded);
  CHECK(info.health_status == ServiceHealthStatus::Healthy);
}

TEST_CASE("consul: the worst check decides, node checks included",
          "[consul][wire]") {
  auto entry = [](const std::string& node_status,
                  const std::string& service_status) {
    return R"([{"Node":{"Address":"127.0.0.1"},"Service":{"ID":"x","Service":"x",)"
           R"("Port":80},"Checks":[{"CheckID":"serfHealth","Status":")" +
           node_status + R"("},{"CheckID":"service:x","Status":")" +
           service_status + R"("}]}])";
  };
  size_t skipped = 0;
  auto critical_node =
      consul::decode_health(entry("critical", "passing"), skipped);
  REQUIRE(critical_node);
  auto info = consul::to_service_info("x", *critical_node);
  CHECK(info.endpoints.at(0).health_status == EndpointHealthStatus::Unhealthy);
  auto maintenance =
      consul::decode_health(entry("passing", "maintenance"), skipped);
  REQUIRE(maintenance);
  CHECK(consul::to_service_info("x", *maintenance)
            .endpoints.at(0)
            .health_status == EndpointHealthStatus::Unhealthy);
}

TEST_CASE("consul: bad entries are skipped and counted, a bad body is an "
          "error",
          "[consul][wire]") {
  size_t skipped = 0;
  auto mixed = consul::decode_health(
      R"([{"Service":{"ID":"ok","Service":"s","Port":80,"Address":"h"}},)"
      R"({"Service":{"ID":"","Service":"s","Port":80}},)"
      R"({"Service":{"ID":"p","Service":"s","Port":99999}},)"
      R"("garbage",{"Node":{}}])",
      skipped);
  REQUIRE(mixed);
  CHECK(mixed->size() == 1);
  CHECK(skipped == 4);
  CHECK_FALSE(consul::decode_health("{\"not\":\"an array\"}", skipped));
  CHECK_FALSE(consul::decode_health("[{", skipped));
  CHECK_FALSE(consul::decode_catalog("[]"));
  auto catalog =
      consul::decode_catalog(R"({"consul":[],"web":["v1","edge"],"db":[]})");
  REQUIRE(catalog);
  CHECK(catalog->at("web") == std::vector<std::string>{"v1", "edge"});
}

TEST_CASE("consul: service_prefix selects by name prefix or tag",
          "[consul][wire]") {
  CHECK(consul::selected("web", {}, ""));
  CHECK_FALSE(consul::selected("consul", {}, ""));
  CHECK(consul::selected("orasi-web", {}, "orasi-"));
  CHECK(consul::selected("web", {"orasi-"}, "orasi-"));
  CHECK_FALSE(consul::selected("web", {"v1"}, "orasi-"));
}

TEST_CASE("consul: a registration reads back as it was written",
          "[consul][wire]") {
  ServiceInfo info;
  info.name = "Web Frontend";
  info.metadata = {{"team", "web"}};
  info.endpoints.push_back(ServiceEndpoint{"http://127.0.0.1:8080",
                                           2,
                                           EndpointHealthStatus::Unknown,
                                           {{"zone", "a"}}});
  info.endpoints.push_back(ServiceEndpoint{
      "https://[::1]/api", 1, EndpointHealthStatus::Unknown, {}});
  consul::check_settings check;
  check.path = "/health";
  check.interval = std::chrono::seconds(10);
  check.timeout = std::chrono::milliseconds(1500);
  check.deregister_critical_after = std::chrono::minutes(5);
  auto regs = consul::registrations_for("web-1", info, check);
  REQUIRE(regs);
  REQUIRE(regs->size() == 2);
  CHECK((*regs)[0].id == "web-1-0");
  auto first = json::parse((*regs)[0].body).as_object();
  CHECK(first.at("Name") == "web-1");
  CHECK(first.at("Address") == "127.0.0.1");
  CHECK(first.at("Port") == 8080);
  CHECK(first.at("Weights").at("Passing") == 2);
  CHECK(first.at("Meta").at("zone") == "a");
  CHECK(first.at("Meta").at("orasi-name") == "Web Frontend");
  CHECK(first.at("Meta").at("orasi-svc-team") == "web");
  const auto& http = first.at("Check").as_object();
  CHECK(http.at("HTTP") == "http://127.0.0.1:8080/health");
  CHECK(http.at("Interval") == "10s");
  CHECK(http.at("Timeout") == "1500ms");
  CHECK(http.at("DeregisterCriticalServiceAfter") == "300s");
  auto second = json::parse((*regs)[1].body).as_object();
  CHECK(second.at("Address") == "::1");
  CHECK(second.at("Port") == 443);
  CHECK(second.at("Meta").at("orasi-url") == "https://[::1]/api");
  CHECK(second.at("Check").at("HTTP") == "https://[::1]:443/api/health");

  // As Consul would answer for those two instances.
  std::vector<consul::instance> read_back;
  for (const auto& reg : *regs) {
    auto body = json::parse(reg.body).as_object();
    consul::instance in;
    in.id = reg.id;
    in.service = "web-1";
    in.address = std::string{body.at("Address").as_string()};
    in.port = static_cast<uint16_t>(body.at("Port").as_int64());
    for (const auto& [key, value] : body.at("Meta").as_object())
      in.meta.emplace(std::string{key}, std::string{value.as_string()});
    in.weight =
        static_cast<uint32_t>(body.at("Weights").at("Passing").as_int64());
    read_back.push_back(in);
  }
  auto again = consul::to_service_info("web-1", read_back);
  CHECK(again.name == info.name);
  CHECK(again.metadata == info.metadata);
  REQUIRE(again.endpoints.size() == 2);
  CHECK(again.endpoints[0].url == info.endpoints[0].url);
  CHECK(again.endpoints[0].weight == 2);
  CHECK(again.endpoints[0].metadata == info.endpoints[0].metadata);
  CHECK(again.endpoints[1].url == info.endpoints[1].url);
  CHECK(again.endpoints[1].metadata.empty());

  info.endpoints[0].url = "ftp://x";
  CHECK_FALSE(consul::registrations_for("web-1", info, check));
}

TEST_CASE("consul: metadata Consul would refuse is an error naming it",
          "[consul][wire]") {
  ServiceInfo info;
  info.name = "web";
  info.endpoints.push_back(ServiceEndpoint{
      "http://127.0.0.1:80", 1, EndpointHealthStatus::Unknown, {}});
  consul::check_settings check;
  for (auto bad : {"a.b", "k8s/zone", "has space", "consul-x", "scheme",
                   "orasi-url", "orasi-svc-team"}) {
    CAPTURE(bad);
    info.endpoints[0].metadata = {{bad, "v"}};
    auto regs = consul::registrations_for("web", info, check);
    REQUIRE_FALSE(regs);
    CHECK_THAT(error_message(regs.error()), Catch::Contains(bad));
  }
  info.endpoints[0].metadata = {{"ok_key-1", std::string(513, 'x')}};
  CHECK_FALSE(consul::registrations_for("web", info, check));
  info.endpoints[0].metadata = {};
  info.endpoints[0].weight = 70000;
  CHECK_FALSE(consul::registrations_for("web", info, check));
}

TEST_CASE("consul: an instance without a port takes the scheme's default",
          "[consul][wire]") {
  size_t skipped = 0;
  auto portless = consul::decode_health(
      R"([{"Node":{"Address":"127.0.0.1"},"Service":{"ID":"x","Service":"x",)"
      R"("Address":""}}])",
      skipped);
  REQUIRE(portless);
  CHECK(skipped == 0);
  CHECK(consul::to_service_info("x", *portless).endpoints.at(0).url ==
        "http://127.0.0.1");
}
