// The JSON format of ServiceInfo: field names, enum spellings, defaults and
// round trips, as shared with the original (Rust) module.
#include <algorithm>

#include <boost/json.hpp>

#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "unit/unit_support.hpp"

namespace json = boost::json;

using namespace orasi;
using orasi::test::endpoint;

namespace {

ServiceInfo sample_service() {
  ServiceInfo result;
  result.name = "payments";
  auto first = endpoint("http://127.0.0.1:8080", EndpointHealthStatus::Healthy);
  first.weight = 7;
  first.metadata = {{"zone", "eu-1"}, {"canary", "true"}};
  auto second =
      endpoint("https://127.0.0.2:8443/base", EndpointHealthStatus::Unhealthy);
  second.weight = 0;
  result.endpoints = {first, second,
                      endpoint("http://h:1", EndpointHealthStatus::Unknown)};
  result.health_status = ServiceHealthStatus::Degraded;
  result.metadata = {{"team", "billing"}, {"version", "1.2.3"}};
  return result;
}

std::vector<std::string> keys_of(const json::object& obj) {
  std::vector<std::string> result;
  for (const auto& member : obj)
    result.emplace_back(member.key());
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace

TEST_CASE("json codec: encode uses the original module's field names",
          "[json_codec]") {
  auto value = json::parse(encode(sample_service()));
  REQUIRE(value.is_object());
  const auto& obj = value.get_object();
  CHECK(keys_of(obj) == std::vector<std::string>{"endpoints", "health_status",
                                                 "metadata", "name"});
  CHECK(obj.at("name") == "payments");
  CHECK(obj.at("health_status") == "Degraded");
  CHECK(obj.at("metadata") ==
        json::object{{"team", "billing"}, {"version", "1.2.3"}});
  const auto& endpoints = obj.at("endpoints").as_array();
  REQUIRE(endpoints.size() == 3);
  const auto& first = endpoints[0].as_object();
  CHECK(keys_of(first) ==
        std::vector<std::string>{"health_status", "metadata", "url", "weight"});
  CHECK(first.at("url") == "http://127.0.0.1:8080");
  CHECK(first.at("weight").to_number<int64_t>() == 7);
  CHECK(first.at("health_status") == "Healthy");
  CHECK(first.at("metadata") ==
        json::object{{"zone", "eu-1"}, {"canary", "true"}});
  CHECK(endpoints[1].at("health_status") == "Unhealthy");
  CHECK(endpoints[1].at("weight").to_number<int64_t>() == 0);
  CHECK(endpoints[2].at("health_status") == "Unknown");
  // Empty metadata is written as an object, not omitted or null.
  CHECK(endpoints[2].at("metadata") == json::object{});
}

TEST_CASE("json codec: service health spellings", "[json_codec]") {
  auto [status, spelling] = GENERATE(table<ServiceHealthStatus, std::string>(
      {{ServiceHealthStatus::Healthy, "Healthy"},
       {ServiceHealthStatus::Degraded, "Degraded"},
       {ServiceHealthStatus::Unhealthy, "Unhealthy"},
       {ServiceHealthStatus::Unknown, "Unknown"}}));
  CAPTURE(spelling);
  CHECK(to_string(status) == spelling);
  ServiceInfo info;
  info.name = "svc";
  info.health_status = status;
  CHECK(to_json(info).at("health_status") == spelling.c_str());
  auto decoded =
      decode_service(R"({"name":"svc","health_status":")" + spelling + "\"}");
  REQUIRE(decoded);
  CHECK(decoded->health_status == status);
}

TEST_CASE("json codec: endpoint health spellings", "[json_codec]") {
  auto [status, spelling] = GENERATE(table<EndpointHealthStatus, std::string>(
      {{EndpointHealthStatus::Healthy, "Healthy"},
       {EndpointHealthStatus::Unhealthy, "Unhealthy"},
       {EndpointHealthStatus::Unknown, "Unknown"}}));
  CAPTURE(spelling);
  CHECK(to_string(status) == spelling);
  CHECK(to_json(endpoint("http://h:1", status)).at("health_status") ==
        spelling.c_str());
  auto decoded = decode_service(
      R"({"name":"svc","endpoints":[{"url":"http://h:1","health_status":")" +
      spelling + "\"}]}");
  REQUIRE(decoded);
  REQUIRE(decoded->endpoints.size() == 1);
  CHECK(decoded->endpoints[0].health_status == status);
}

TEST_CASE("json codec: enum spellings are exact", "[json_codec]") {
  ServiceHealthStatus service = ServiceHealthStatus::Unknown;
  EndpointHealthStatus endpoint_status = EndpointHealthStatus::Unknown;
  CHECK_FALSE(from_string("healthy", service));
  CHECK_FALSE(from_string("HEALTHY", service));
  CHECK_FALSE(from_string("Healthy ", service));
  CHECK_FALSE(from_string("", service));
  // Endpoints have no Degraded state.
  CHECK_FALSE(from_string("Degraded", endpoint_status));
  CHECK(from_string("Degraded", service));
  CHECK(service == ServiceHealthStatus::Degraded);
  auto decoded = decode_service(
      std::string_view{R"({"name":"a","endpoints":[{"url":"http://h:1",)"
                       R"("health_status":"Degraded"}]})"},
      "svc");
  REQUIRE_FALSE(decoded);
  CHECK_THAT(error_message(decoded.error()),
             Catch::Contains("svc.endpoints[0].health_status"));
}

TEST_CASE("json codec: parses text in the original module's format",
          "[json_codec]") {
  // As serde_json writes the Rust ServiceInfo (pretty-printed).
  constexpr auto text = R"({
  "name": "my-service",
  "endpoints": [
    {
      "url": "http://127.0.0.1:8080",
      "weight": 1,
      "health_status": "Healthy",
      "metadata": {
        "zone": "a"
      }
    },
    {
      "url": "https://127.0.0.2:8443",
      "weight": 5,
      "health_status": "Unhealthy",
      "metadata": {}
    }
  ],
  "health_status": "Degraded",
  "metadata": {
    "version": "1.2.3"
  }
})";
  auto decoded = decode_service(std::string_view{text}, "etcd-value");
  REQUIRE(decoded);
  ServiceInfo expected;
  expected.name = "my-service";
  auto first = endpoint("http://127.0.0.1:8080", EndpointHealthStatus::Healthy);
  first.metadata = {{"zone", "a"}};
  auto second =
      endpoint("https://127.0.0.2:8443", EndpointHealthStatus::Unhealthy);
  second.weight = 5;
  expected.endpoints = {first, second};
  expected.health_status = ServiceHealthStatus::Degraded;
  expected.metadata = {{"version", "1.2.3"}};
  CHECK(*decoded == expected);
}

TEST_CASE("json codec: missing optional fields take their defaults",
          "[json_codec]") {
  SECTION("service with only a name") {
    auto decoded = decode_service(std::string_view{R"({"name":"a"})"});
    REQUIRE(decoded);
    CHECK(decoded->name == "a");
    CHECK(decoded->endpoints.empty());
    CHECK(decoded->health_status == ServiceHealthStatus::Unknown);
    CHECK(decoded->metadata.empty());
  }
  SECTION("endpoint with only a url") {
    auto decoded = decode_service(std::string_view{
        R"({"name":"a","endpoints":[{"url":"http://h:1"}],"metadata":{"k":"v"}})"});
    REQUIRE(decoded);
    REQUIRE(decoded->endpoints.size() == 1);
    const auto& ep = decoded->endpoints[0];
    CHECK(ep.url == "http://h:1");
    CHECK(ep.weight == 1);
    CHECK(ep.health_status == EndpointHealthStatus::Unknown);
    CHECK(ep.metadata.empty());
    CHECK(decoded->metadata == Metadata{{"k", "v"}});
  }
}

TEST_CASE("json codec: weight accepts the whole uint32 range", "[json_codec]") {
  auto weight = GENERATE(as<uint32_t>{}, 0u, 1u, 100u, 4294967295u);
  auto decoded = decode_service(
      R"({"name":"a","endpoints":[{"url":"http://h:1","weight":)" +
      std::to_string(weight) + "}]}");
  REQUIRE(decoded);
  REQUIRE(decoded->endpoints.size() == 1);
  CHECK(decoded->endpoints[0].weight == weight);
}

TEST_CASE("json codec: ServiceInfo round trip", "[json_codec]") {
  auto original = sample_service();
  SECTION("through text") {
    auto decoded = decode_service(encode(original), "svc");
    REQUIRE(decoded);
    CHECK(*decoded == original);
  }
  SECTION("through a json value") {
    auto decoded = decode_service(to_json(original), "svc");
    REQUIRE(decoded);
    CHECK(*decoded == original);
  }
  SECTION("strict mode accepts what encode writes") {
    auto decoded =
        decode_service(to_json(original), "svc", unknown_fields::reject);
    REQUIRE(decoded);
    CHECK(*decoded == original);
  }
  SECTION("non-ASCII and escaped characters survive") {
    original.name = "caf\xc3\xa9 \"quoted\" \\ back";
    original.metadata = {{"tab\tkey", "line\nbreak"}, {"", "empty key"}};
    auto decoded = decode_service(encode(original), "svc");
    REQUIRE(decoded);
    CHECK(*decoded == original);
  }
}

TEST_CASE("json codec: ServiceMap round trip", "[json_codec]") {
  ServiceMap services;
  services["payments-1"] = sample_service();
  ServiceInfo other;
  other.name = "search";
  other.health_status = ServiceHealthStatus::Healthy;
  other.endpoints = {endpoint("http://s:9200", EndpointHealthStatus::Healthy)};
  services["search-1"] = other;
  auto value = to_json(services);
  REQUIRE(value.is_object());
  CHECK(keys_of(value.get_object()) ==
        std::vector<std::string>{"payments-1", "search-1"});
  CHECK(value.at("search-1").at("name") == "search");
  SECTION("through a json value") {
    auto decoded = decode_services(value, "services");
    REQUIRE(decoded);
    CHECK(*decoded == services);
  }
  SECTION("through text") {
    auto decoded = decode_services(json::parse(encode(services)), "services",
                                   unknown_fields::reject);
    REQUIRE(decoded);
    CHECK(*decoded == services);
  }
  SECTION("empty map") {
    CHECK(encode(ServiceMap{}) == "{}");
    auto decoded = decode_services(json::parse("{}"), "services");
    REQUIRE(decoded);
    CHECK(decoded->empty());
  }
}
