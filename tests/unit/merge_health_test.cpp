// How the registry merges probe verdicts with what the backend declares,
// including the Consul rule (health_source "both"): the backend's worse
// verdict vetoes the probes.
#include <catch2/catch.hpp>

#include "actors/registry.hpp"

using namespace orasi;
using H = EndpointHealthStatus;

namespace {

ServiceMap declared(H status, bool degraded = false) {
  ServiceInfo info;
  info.name = "web";
  ServiceEndpoint endpoint{"http://127.0.0.1:80", 1, status, {}};
  endpoint.degraded = degraded;
  info.endpoints.push_back(endpoint);
  return {{"web-1", info}};
}

verdict_map probe_says(H status, bool degraded = false) {
  return {{endpoint_key{"web-1", "http://127.0.0.1:80"},
           endpoint_verdict{status, degraded}}};
}

const ServiceEndpoint& merged(const ServiceMap& services) {
  return services.at("web-1").endpoints.at(0);
}

} // namespace

TEST_CASE("probes alone decide when the backend has no veto",
          "[registry][merge]") {
  auto result =
      merge_health(declared(H::Unhealthy), probe_says(H::Healthy), true, false);
  CHECK(merged(result).health_status == H::Healthy);
  auto unknown = merge_health(declared(H::Healthy), {}, true, false);
  CHECK(merged(unknown).health_status == H::Unknown);
}

TEST_CASE("with backend vetoes, the worse verdict wins", "[registry][merge]") {
  struct row {
    H backend;
    bool backend_degraded;
    H probe;
    H expected;
    bool expected_degraded;
  };
  auto [backend, backend_degraded, probe, expected, expected_degraded] =
      GENERATE(values<row>({
          {H::Unhealthy, false, H::Healthy, H::Unhealthy, false},
          {H::Healthy, true, H::Healthy, H::Healthy, true},
          {H::Healthy, false, H::Unhealthy, H::Unhealthy, false},
          {H::Healthy, false, H::Healthy, H::Healthy, false},
          {H::Healthy, true, H::Unhealthy, H::Unhealthy, false},
          {H::Unhealthy, false, H::Unknown, H::Unhealthy, false},
      }));
  CAPTURE(backend, backend_degraded, probe);
  auto result = merge_health(declared(backend, backend_degraded),
                             probe_says(probe), true, true);
  CHECK(merged(result).health_status == expected);
  CHECK(merged(result).degraded == expected_degraded);
}

TEST_CASE("a backend veto also holds before the first probe verdict",
          "[registry][merge]") {
  auto result = merge_health(declared(H::Unhealthy), {}, true, true);
  CHECK(merged(result).health_status == H::Unhealthy);
  CHECK(result.at("web-1").health_status == ServiceHealthStatus::Unhealthy);
}
