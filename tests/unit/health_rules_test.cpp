// Service health derived from endpoint health, and the routable view.
#include <algorithm>

#include "messages/health_rules.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using orasi::test::endpoint;

namespace {

constexpr auto H = EndpointHealthStatus::Healthy;
constexpr auto U = EndpointHealthStatus::Unhealthy;
constexpr auto K = EndpointHealthStatus::Unknown;

std::vector<ServiceEndpoint>
endpoints_with(std::vector<EndpointHealthStatus> states) {
  std::vector<ServiceEndpoint> result;
  for (size_t i = 0; i < states.size(); ++i)
    result.push_back(
        endpoint("http://127.0.0." + std::to_string(i + 1) + ":80", states[i]));
  return result;
}

std::string describe(const std::vector<EndpointHealthStatus>& states) {
  std::string result = "[";
  for (auto state : states)
    result += std::string{to_string(state)} + " ";
  return result + "]";
}

} // namespace

TEST_CASE("health rules: derive_service_health covers every case",
          "[health_rules]") {
  using S = ServiceHealthStatus;
  using states = std::vector<EndpointHealthStatus>;
  auto [input, expected] = GENERATE(table<states, S>({
      // No endpoints.
      {states{}, S::Unhealthy},
      // All Unknown.
      {states{K}, S::Unknown},
      {states{K, K, K}, S::Unknown},
      // All Healthy.
      {states{H}, S::Healthy},
      {states{H, H, H}, S::Healthy},
      // None Healthy, some known.
      {states{U}, S::Unhealthy},
      {states{U, U}, S::Unhealthy},
      {states{U, K}, S::Unhealthy},
      {states{K, K, U}, S::Unhealthy},
      // Some Healthy, not all.
      {states{H, U}, S::Degraded},
      {states{U, U, H}, S::Degraded},
      {states{H, K}, S::Degraded},
      {states{K, K, H}, S::Degraded},
      {states{H, U, K}, S::Degraded},
      {states{H, H, H, U}, S::Degraded},
  }));
  CAPTURE(describe(input));
  CHECK(derive_service_health(endpoints_with(input)) == expected);
}

TEST_CASE("health rules: a service whose only passing endpoints are "
          "degraded (429) is Degraded",
          "[health_rules]") {
  auto degraded = [](ServiceEndpoint x) {
    x.degraded = true;
    return x;
  };
  auto healthy = endpoint("http://127.0.0.1:80", H);
  auto shedding = degraded(endpoint("http://127.0.0.2:80", H));
  auto down = endpoint("http://127.0.0.3:80", U);
  using S = ServiceHealthStatus;
  CHECK(derive_service_health({shedding}) == S::Degraded);
  CHECK(derive_service_health({shedding, shedding}) == S::Degraded);
  CHECK(derive_service_health({shedding, down}) == S::Degraded);
  // One endpoint passes without shedding load: the usual rules apply.
  CHECK(derive_service_health({healthy, shedding}) == S::Healthy);
  CHECK(derive_service_health({healthy, shedding, down}) == S::Degraded);
  // Degraded endpoints stay routable: they answer.
  ServiceMap services{
      {"api-1", ServiceInfo{"api", {shedding, down}, S::Degraded, {}}}};
  auto routable = routable_view(services);
  REQUIRE(routable.count("api-1") == 1);
  CHECK(routable.at("api-1").endpoints.size() == 1);
  CHECK(routable.at("api-1").endpoints.at(0).degraded);
}

TEST_CASE("health rules: the order of endpoints does not matter",
          "[health_rules]") {
  auto endpoints = endpoints_with({U, H, K, H});
  auto expected = derive_service_health(endpoints);
  CHECK(expected == ServiceHealthStatus::Degraded);
  std::sort(endpoints.begin(), endpoints.end(),
            [](const auto& x, const auto& y) {
              return x.health_status < y.health_status;
            });
  do {
    CHECK(derive_service_health(endpoints) == expected);
  } while (std::next_permutation(endpoints.begin(), endpoints.end(),
                                 [](const auto& x, const auto& y) {
                                   return x.health_status < y.health_status;
                                 }));
}

TEST_CASE("health rules: routable_view keeps only Healthy endpoints",
          "[health_rules]") {
  ServiceMap services;

  ServiceInfo mixed;
  mixed.name = "payments";
  mixed.metadata = {{"team", "billing"}};
  mixed.health_status = ServiceHealthStatus::Degraded;
  mixed.endpoints = {endpoint("http://a:1", H), endpoint("http://b:1", U),
                     endpoint("http://c:1", H), endpoint("http://d:1", K)};
  mixed.endpoints[2].weight = 9;
  mixed.endpoints[2].metadata = {{"zone", "z2"}};
  services["payments-1"] = mixed;

  ServiceInfo all_healthy;
  all_healthy.name = "search";
  all_healthy.health_status = ServiceHealthStatus::Healthy;
  all_healthy.endpoints = {endpoint("http://s:1", H)};
  services["search-1"] = all_healthy;

  ServiceInfo all_unhealthy;
  all_unhealthy.name = "down";
  all_unhealthy.endpoints = {endpoint("http://x:1", U),
                             endpoint("http://y:1", U)};
  services["down-1"] = all_unhealthy;

  ServiceInfo all_unknown;
  all_unknown.name = "new";
  all_unknown.endpoints = {endpoint("http://n:1", K)};
  services["new-1"] = all_unknown;

  ServiceInfo no_endpoints;
  no_endpoints.name = "empty";
  services["empty-1"] = no_endpoints;

  auto view = routable_view(services);

  std::vector<std::string> ids;
  for (const auto& [id, service] : view)
    ids.push_back(id);
  CHECK(ids == std::vector<std::string>{"payments-1", "search-1"});

  const auto& routable = view.at("payments-1");
  CHECK(routable.name == "payments");
  CHECK(routable.metadata == Metadata{{"team", "billing"}});
  REQUIRE(routable.endpoints.size() == 2);
  // Only the Healthy ones, in their original order, otherwise unchanged.
  CHECK(routable.endpoints[0] == mixed.endpoints[0]);
  CHECK(routable.endpoints[1] == mixed.endpoints[2]);
  CHECK(routable.endpoints[1].weight == 9);
  CHECK(routable.endpoints[1].metadata == Metadata{{"zone", "z2"}});

  CHECK(view.at("search-1") == all_healthy);
}

TEST_CASE("health rules: routable_view of nothing routable is empty",
          "[health_rules]") {
  CHECK(routable_view(ServiceMap{}).empty());
  ServiceMap services;
  services["a"].name = "a";
  services["a"].endpoints = endpoints_with({U, K, U});
  services["b"].name = "b";
  CHECK(routable_view(services).empty());
}

TEST_CASE("health rules: routable_view does not modify its input",
          "[health_rules]") {
  ServiceMap services;
  services["a"].name = "a";
  services["a"].endpoints = endpoints_with({H, U});
  auto copy = services;
  auto view = routable_view(services);
  CHECK(services == copy);
  CHECK(view.at("a").endpoints.size() == 1);
}
