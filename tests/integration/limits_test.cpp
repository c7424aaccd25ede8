// service_discovery.limits against a real etcd (and Consul's API emulator,
// since Consul cannot be installed here): responses over
// max_response_bytes and listings over max_services are refused with the
// limit named, the last good services stay, and the registry converges once
// etcd is back within the limits. (The adapter's per-change and
// registration limits are pinned in tests/actors/backend_limits_test.cpp.)
#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "messages/json_codec.hpp"
#include "runtime/config/gateway_error.hpp"
#include "runtime/service_discovery.hpp"
#include "support/consul_emulator.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
using test::etcd_cluster;
using test::eventually;

namespace {

const std::string services_prefix = "/orasi/services/";

/// A service whose stored value is about `padding` bytes bigger.
std::string value_of(const std::string& name, size_t padding = 0) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back(ServiceEndpoint{
      "http://127.0.0.1:80", 1, EndpointHealthStatus::Healthy, {}});
  if (padding > 0)
    info.metadata["padding"] = std::string(padding, 'x');
  return encode(info);
}

GatewayConfig limited_config(etcd_cluster& cluster) {
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Etcd;
  sd.endpoints = cluster.client_urls();
  sd.refresh_interval = 10min;
  sd.health_check.enabled = false;
  sd.etcd.dial_timeout = 500ms;
  sd.etcd.request_timeout = 2s;
  sd.limits.max_response_bytes = 64 << 10;
  return config;
}

std::string start_error(ServiceDiscovery& discovery) {
  try {
    discovery.start();
  } catch (const GatewayError& err) {
    return err.message();
  }
  return "started";
}

} // namespace

TEST_CASE("limits: an etcd listing over max_response_bytes fails start with "
          "the limit named",
          "[limits][etcd]") {
  etcd_cluster cluster;
  // 40 values of ~2 KiB: one range page of ~110 KiB (base64 in JSON).
  for (int i = 0; i < 40; ++i)
    cluster.put(services_prefix + "big-" + std::to_string(i),
                value_of("big", 2048));
  ServiceDiscovery limited{limited_config(cluster)};
  CHECK_THAT(start_error(limited),
             Catch::Contains("response over service_discovery.limits."
                             "max_response_bytes (65536 bytes)"));
  auto config = limited_config(cluster);
  config.service_discovery.limits.max_response_bytes = 1 << 20;
  ServiceDiscovery roomy{config};
  roomy.start();
  CHECK(roomy.get_services().size() == 40);
}

TEST_CASE("limits: an etcd listing over max_services fails start, a "
          "service that would cross it later is refused and counted",
          "[limits][etcd]") {
  etcd_cluster cluster;
  for (int i = 0; i < 3; ++i)
    cluster.put(services_prefix + "s-" + std::to_string(i), value_of("s"));
  auto config = limited_config(cluster);
  config.service_discovery.limits.max_services = 2;
  ServiceDiscovery over{config};
  CHECK_THAT(start_error(over),
             Catch::Contains("the listing has 3 services, over "
                             "service_discovery.limits.max_services (2)"));

  config.service_discovery.limits.max_services = 3;
  ServiceDiscovery discovery{config};
  discovery.start();
  cluster.put(services_prefix + "s-3", value_of("s"));
  REQUIRE(eventually(
      [&] { return discovery.backend_metrics().limit_refusals == 1; }, 5s));
  CHECK_FALSE(discovery.get_service("s-3"));
  // Room made in etcd: the next change within the limit applies.
  cluster.del(services_prefix + "s-0");
  cluster.put(services_prefix + "s-4", value_of("s"));
  CHECK(
      eventually([&] { return discovery.get_service("s-4").has_value(); }, 5s));
  CHECK(discovery.get_services().size() == 3);
}

TEST_CASE("limits: an etcd watch event over max_response_bytes leaves the "
          "last good services, stale, until etcd is within the limit again",
          "[limits][etcd]") {
  etcd_cluster cluster;
  cluster.put(services_prefix + "small-1", value_of("small"));
  cluster.put(services_prefix + "small-2", value_of("small"));
  ServiceDiscovery discovery{limited_config(cluster)};
  discovery.start();
  REQUIRE(discovery.get_services().size() == 2);

  // One 80 KiB value: its watch message, and every listing, is too big.
  cluster.put(services_prefix + "huge", value_of("huge", 80 << 10));
  REQUIRE(eventually([&] { return discovery.backend_metrics().stale; }, 5s));
  CHECK(discovery.get_services().size() == 2);
  CHECK_FALSE(discovery.get_service("huge"));

  cluster.del(services_prefix + "huge");
  cluster.put(services_prefix + "small-3", value_of("small"));
  CHECK(eventually(
      [&] {
        return discovery.get_services().size() == 3 &&
               !discovery.backend_metrics().stale;
      },
      15s));
  CHECK_FALSE(discovery.get_service("huge"));
}

TEST_CASE("limits: a Consul answer over max_response_bytes leaves its "
          "service unread (the API emulator)",
          "[limits][consul]") {
  test::consul_emulator agent;
  // 400 instances of one service: a health answer of ~300 KiB.
  for (int i = 0; i < 400; ++i) {
    test::consul_instance in;
    in.id = "web-" + std::to_string(i);
    in.name = "web";
    in.address =
        "127.3." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    in.port = 80;
    agent.register_instance(in);
  }
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Consul;
  sd.endpoints = {agent.url()};
  sd.health_check.enabled = false;
  sd.consul.health_source = ConsulHealthSource::Consul;
  sd.consul.wait = 2s;
  sd.consul.request_timeout = 2s;
  sd.limits.max_response_bytes = 64 << 10;
  // One service's answer too big makes that service unreadable (skipped,
  // counted, its last good value kept), not the whole listing.
  ServiceDiscovery limited{config};
  limited.start();
  CHECK_FALSE(limited.get_service("web"));
  CHECK(limited.backend_metrics().unreadable_values >= 1);
  sd.limits.max_response_bytes = 1 << 20;
  ServiceDiscovery roomy{config};
  roomy.start();
  CHECK(roomy.get_services().size() == 1);
  CHECK(roomy.get_service("web")->endpoints.size() == 400);
}
