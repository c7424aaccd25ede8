// The whole path on the etcd backend: register through the API, discover
// from another instance, probe a real HTTP endpoint on loopback, see it leave
// the routable view when it fails and come back, deregister. Plus the spec's
// EtcdBackend used on its own.
#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "messages/json_codec.hpp"
#include "runtime/etcd_backend.hpp"
#include "runtime/service_discovery.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
using test::eventually;

namespace {

GatewayConfig probed_etcd_config(const test::etcd_cluster& cluster) {
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Etcd;
  sd.endpoints = cluster.client_urls();
  auto& hc = sd.health_check;
  hc.interval = 100ms;
  hc.fast_interval = 100ms;
  hc.timeout = 200ms;
  hc.retries = 0;
  hc.success_threshold = 1;
  hc.failure_threshold = 2;
  return config;
}

ServiceInfo one_endpoint(const std::string& name, const std::string& url) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back(
      ServiceEndpoint{url, 1, EndpointHealthStatus::Unknown, {}});
  return info;
}

bool routable(ServiceDiscovery& discovery, const std::string& id) {
  return discovery.get_healthy_services().count(id) == 1;
}

} // namespace

TEST_CASE("etcd end to end: register, discover elsewhere, probe, fail, "
          "recover, deregister",
          "[etcd][e2e]") {
  test::etcd_cluster cluster;
  test::http_test_server endpoint;
  auto url = "http://127.0.0.1:" + std::to_string(endpoint.port());

  ServiceDiscovery writer{probed_etcd_config(cluster)};
  ServiceDiscovery reader{probed_etcd_config(cluster)};
  writer.start();
  reader.start();
  writer.register_service("web-1", one_endpoint("web", url));

  // The other instance learns it by watch and probes it: Unknown, then
  // Healthy and routable.
  REQUIRE(
      eventually([&] { return reader.get_service("web-1").has_value(); }, 5s));
  CHECK(eventually([&] { return routable(reader, "web-1"); }, 5s));
  CHECK(reader.get_service("web-1")->endpoints.at(0).health_status ==
        EndpointHealthStatus::Healthy);

  endpoint.set_behavior(test::server_behavior::answer(503));
  CHECK(eventually([&] { return !routable(reader, "web-1"); }, 5s));
  CHECK(reader.get_service("web-1")->endpoints.at(0).health_status ==
        EndpointHealthStatus::Unhealthy);
  endpoint.set_behavior(test::server_behavior::answer(200));
  CHECK(eventually([&] { return routable(reader, "web-1"); }, 5s));

  writer.deregister_service("web-1");
  CHECK(eventually([&] { return !reader.get_service("web-1"); }, 5s));
  // Its probe stops with it (the count drops once the probe has exited).
  CHECK(eventually([&] { return reader.probe_metrics().active_probes == 0; },
                   5s));
}

TEST_CASE("EtcdBackend on its own: discover, register on a lease, "
          "deregister",
          "[etcd][e2e]") {
  test::etcd_cluster cluster;
  cluster.put("/shop/services/seed-1",
              encode(one_endpoint("seed", "http://127.0.0.1:80")));
  EtcdConfig settings;
  settings.lease_ttl = 5s;
  {
    EtcdBackend backend{cluster.client_urls(), "/shop", settings};
    auto found = backend.discover_services();
    REQUIRE(found.size() == 1);
    CHECK(found.at("seed-1").name == "seed");

    backend.register_service("mine-1",
                             one_endpoint("mine", "http://127.0.0.2:80"));
    CHECK(cluster.lease_of("/shop/services/mine-1"));
    CHECK(backend.discover_services().size() == 2);

    GatewayConfig config;
    backend.configure(config);
    CHECK(config.service_discovery.prefix == "/shop");
    config.service_discovery.health_check.enabled = false;
    ServiceDiscovery discovery{config};
    discovery.start();
    CHECK(discovery.get_services().size() == 2);

    backend.deregister_service("mine-1");
    try {
      backend.deregister_service("mine-1");
      FAIL("a second deregister must fail");
    } catch (const GatewayError& err) {
      CHECK(err.kind() == errc::not_found);
    }
    backend.register_service("mine-2",
                             one_endpoint("mine", "http://127.0.0.3:80"));
  }
  // Gone with the object: its lease is revoked.
  CHECK(cluster.read_prefix("/shop/services/").size() == 1);
  CHECK_THROWS_AS((EtcdBackend{{"not a url"}, "/shop"}), GatewayError);
}
