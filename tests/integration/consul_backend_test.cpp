// The Consul backend against the Consul API emulator (tests/support/
// consul_emulator: Consul cannot be installed here). Discovery, blocking
// updates, registration, deregistration, datacenter and token, agent down
// -> stale -> recovery, an index that goes backwards, a 500 storm and bad
// JSON; each fault test ends with the registry equal to the catalog.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "messages/json_codec.hpp"
#include "runtime/consul_backend.hpp"
#include "runtime/service_discovery.hpp"
#include "support/consul_emulator.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
using test::consul_emulator;
using test::consul_instance;
using test::eventually;

namespace {

/// Probes off (health from Consul's checks), short blocking waits.
GatewayConfig consul_config(const consul_emulator& agent) {
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Consul;
  sd.endpoints = {agent.url()};
  sd.refresh_interval = 10min; // only the blocking queries explain changes
  sd.consul.health_source = ConsulHealthSource::Consul;
  sd.consul.wait = 2s;
  sd.consul.dial_timeout = 500ms;
  sd.consul.request_timeout = 2s;
  return config;
}

consul_instance instance(const std::string& id, const std::string& name,
                         const std::string& address, int port,
                         const std::string& status = "passing") {
  consul_instance in;
  in.id = id;
  in.name = name;
  in.address = address;
  in.port = port;
  test::consul_check check;
  check.status = status;
  in.checks.push_back(check);
  return in;
}

/// The registry holds exactly the catalog's services (Consul's view: the
/// instances' URLs and health, as the source maps them).
bool registry_matches(ServiceDiscovery& discovery, consul_emulator& agent) {
  ConsulConfig settings;
  settings.dial_timeout = 500ms;
  ConsulBackend direct{"", std::nullopt, agent.url(), settings};
  try {
    auto expected = direct.discover_services();
    auto actual = discovery.get_services();
    if (expected.size() != actual.size())
      return false;
    for (auto& [id, info] : expected) {
      auto it = actual.find(id);
      if (it == actual.end() || encode(it->second) != encode(info))
        return false;
    }
    return true;
  } catch (const GatewayError&) {
    return false;
  }
}

bool converges(ServiceDiscovery& discovery, consul_emulator& agent,
               std::chrono::milliseconds timeout = 10s) {
  return eventually([&] { return registry_matches(discovery, agent); },
                    timeout);
}

EndpointHealthStatus health_of(ServiceDiscovery& discovery,
                               const std::string& id, size_t endpoint = 0) {
  auto found = discovery.get_service(id);
  if (!found || found->endpoints.size() <= endpoint)
    return EndpointHealthStatus::Unknown;
  return found->endpoints[endpoint].health_status;
}

/// The gaps, in milliseconds, between consecutive requests to exactly
/// `path` that arrived at the agent at or after `since`: one retry loop's
/// delays.
std::vector<long long> retry_gaps(const consul_emulator& agent,
                                  const std::string& path,
                                  std::chrono::steady_clock::time_point since) {
  std::vector<long long> gaps;
  std::optional<std::chrono::steady_clock::time_point> last;
  for (const auto& request : agent.request_log()) {
    if (request.path != path || request.at < since)
      continue;
    if (last)
      gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                         request.at - *last)
                         .count());
    last = request.at;
  }
  return gaps;
}

long long longest(const std::vector<long long>& gaps) {
  return gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end());
}

long long shortest(const std::vector<long long>& gaps) {
  return gaps.empty() ? 0 : *std::min_element(gaps.begin(), gaps.end());
}

/// Gaps of one loop looked at in a storm: enough for a growing backoff to
/// show, few enough for a fixed 100 ms retry to fail in under 2 s.
constexpr size_t storm_gaps = 13;

} // namespace

TEST_CASE("consul: discovery maps instances, addresses and check states",
          "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  auto fallback = instance("web-b", "web", "", 8081, "warning");
  fallback.node = "node2";
  fallback.node_address = "127.9.9.9";
  agent.register_instance(fallback);
  agent.register_instance(
      instance("db-1", "db", "127.0.1.1", 5432, "critical"));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  auto services = discovery.get_services();
  REQUIRE(services.size() == 2); // "consul" itself is not selected
  const auto& web = services.at("web");
  REQUIRE(web.endpoints.size() == 2);
  CHECK(web.endpoints[0].url == "http://127.0.0.1:8080");
  CHECK(web.endpoints[0].health_status == EndpointHealthStatus::Healthy);
  CHECK(web.endpoints[1].url == "http://127.9.9.9:8081"); // Node.Address
  CHECK(web.endpoints[1].degraded);                       // warning
  CHECK(health_of(discovery, "db") == EndpointHealthStatus::Unhealthy);
  CHECK(discovery.backend_metrics().backend == "consul");
}

TEST_CASE("consul: changes arrive by blocking queries", "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  // A new service, a check going critical, an instance leaving: each seen
  // well within one wait (2 s), so by a query that returned early.
  agent.register_instance(instance("api-1", "api", "127.0.2.1", 9000));
  CHECK(eventually([&] { return discovery.get_service("api").has_value(); },
                   1500ms));
  agent.set_check_status("web-a", "critical");
  CHECK(eventually(
      [&] {
        return health_of(discovery, "web") == EndpointHealthStatus::Unhealthy;
      },
      1500ms));
  agent.deregister_instance("api-1");
  CHECK(eventually([&] { return !discovery.get_service("api"); }, 1500ms));
  // The loops used blocking queries (index + wait) after the first read.
  bool blocking = false;
  for (const auto& request : agent.request_log())
    blocking |= request.target.find("index=") != std::string::npos &&
                request.target.find("wait=") != std::string::npos;
  CHECK(blocking);
  CHECK(converges(discovery, agent));
}

TEST_CASE("consul: register and deregister through the API",
          "[consul][backend]") {
  consul_emulator agent;
  auto config = consul_config(agent);
  config.service_discovery.health_check.health_check_path = "/ready";
  config.service_discovery.health_check.interval = 7s;
  config.service_discovery.health_check.timeout = 1500ms;
  config.service_discovery.consul.deregister_critical_after = 2min;
  ServiceDiscovery discovery{config};
  discovery.start();
  ServiceInfo info;
  info.name = "payments";
  info.endpoints.push_back(ServiceEndpoint{"http://127.0.5.1:7000",
                                           3,
                                           EndpointHealthStatus::Unknown,
                                           {{"zone", "b"}}});
  discovery.register_service("payments", info);
  REQUIRE(discovery.get_service("payments")); // read-your-writes

  auto sent = agent.registered("payments");
  REQUIRE(sent);
  CHECK(sent->name == "payments");
  CHECK(sent->address == "127.0.5.1");
  CHECK(sent->port == 7000);
  CHECK(sent->meta.at("zone") == "b");
  CHECK(sent->weight_passing == 3);
  REQUIRE(sent->check);
  CHECK(sent->check->http == "http://127.0.5.1:7000/ready");
  CHECK(sent->check->interval == "7s");
  CHECK(sent->check->timeout == "1500ms");
  CHECK(sent->check->deregister_critical_service_after == "120s");
  // Consul's new checks start critical; once its check passes, so do we.
  CHECK(eventually(
      [&] {
        return health_of(discovery, "payments") ==
               EndpointHealthStatus::Unhealthy;
      },
      3s));
  agent.set_check_status("payments", "passing");
  CHECK(eventually(
      [&] {
        return health_of(discovery, "payments") ==
               EndpointHealthStatus::Healthy;
      },
      3s));

  discovery.deregister_service("payments");
  CHECK_FALSE(discovery.get_service("payments"));
  CHECK(agent.deregistrations() == std::vector<std::string>{"payments"});
  try {
    discovery.deregister_service("payments");
    FAIL("a second deregister must fail");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::not_found);
  }
  // stop() withdraws what this instance registered.
  discovery.register_service("payments", info);
  discovery.stop();
  CHECK_FALSE(agent.instance("payments"));
}

TEST_CASE("consul: datacenter and token go with every request, the token "
          "never into an error",
          "[consul][backend]") {
  test::consul_emulator_options options;
  options.datacenter = "eu-west";
  options.acl_token = "s3cr3t-token";
  consul_emulator agent{options};
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  auto config = consul_config(agent);
  config.service_discovery.consul.datacenter = "eu-west";
  config.service_discovery.consul.token = "s3cr3t-token";
  ServiceDiscovery discovery{config};
  discovery.start();
  CHECK(discovery.get_service("web"));
  ServiceInfo info;
  info.name = "api";
  info.endpoints.push_back(ServiceEndpoint{
      "http://127.0.3.1:80", 1, EndpointHealthStatus::Unknown, {}});
  discovery.register_service("api", info);
  for (const auto& request : agent.request_log()) {
    CAPTURE(request.target);
    CHECK(request.token == "s3cr3t-token");
    if (request.path.rfind("/v1/catalog/", 0) == 0 ||
        request.path.rfind("/v1/health/", 0) == 0)
      CHECK(request.target.find("dc=eu-west") != std::string::npos);
    CHECK(request.target.find("s3cr3t") == std::string::npos);
  }

  auto wrong = consul_config(agent);
  wrong.service_discovery.consul.datacenter = "eu-west";
  wrong.service_discovery.consul.token = "wrong-token";
  ServiceDiscovery intruder{wrong};
  try {
    intruder.start();
    FAIL("a wrong token must fail start()");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::backend_rejected);
    CHECK_THAT(err.message(), Catch::Contains("token"));
    CHECK_THAT(err.message(), !Catch::Contains("wrong-token"));
  }
  auto elsewhere = consul_config(agent);
  elsewhere.service_discovery.consul.datacenter = "us-east";
  elsewhere.service_discovery.consul.token = "s3cr3t-token";
  ServiceDiscovery lost{elsewhere};
  CHECK_THROWS_AS(lost.start(), GatewayError);
}

TEST_CASE("consul: agent down -> stale, last services served -> back -> "
          "converged",
          "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  agent.register_instance(instance("db-1", "db", "127.0.1.1", 5432));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  agent.stop();
  REQUIRE(eventually([&] { return discovery.snapshot()->stale; }, 5s));
  CHECK(discovery.get_services().size() == 2);
  CHECK(discovery.backend_metrics().stale);
  // Changes while it is down show up once it is back.
  agent.deregister_instance("db-1");
  agent.register_instance(instance("api-1", "api", "127.0.2.1", 9000));
  agent.restart();
  CHECK(eventually([&] { return !discovery.snapshot()->stale; }, 10s));
  CHECK(converges(discovery, agent));
  CHECK_FALSE(discovery.get_service("db"));
  CHECK(discovery.get_service("api"));
}

TEST_CASE("consul: an index that goes backwards resets the loops",
          "[consul][backend]") {
  test::consul_emulator_options options;
  options.start_index = 1000;
  consul_emulator agent{options};
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  // The agent comes back with a much lower index: blocking on the old one
  // would wait forever; the loops must start over.
  agent.restart(5);
  agent.register_instance(instance("api-1", "api", "127.0.2.1", 9000));
  agent.set_check_status("web-a", "critical");
  CHECK(
      eventually([&] { return discovery.get_service("api").has_value(); }, 6s));
  CHECK(eventually(
      [&] {
        return health_of(discovery, "web") == EndpointHealthStatus::Unhealthy;
      },
      6s));
  CHECK(discovery.backend_metrics().relists >= 1);
  CHECK(converges(discovery, agent));
}

TEST_CASE("consul: a 500 storm marks the data stale, backs off with growing "
          "delays, and recovers",
          "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  agent.set_failure_mode(500);
  // The blocked queries fail at once; what arrives from now on are retries.
  auto storm_began = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return discovery.snapshot()->stale; }, 5s));
  // Two loops retry on their own: the catalog's and web's health. Each
  // delay is drawn from [100 ms, current], current doubling from 100 ms to
  // 5 s (backends/reconnect_backoff.hpp). Among a loop's first 13 gaps a
  // backoff that grows leaves one over 1 s (all 13 under it: p < 1e-6) and
  // some near 100 ms, where a fixed retry leaves gaps all alike. Noise on a
  // busy machine only lengthens gaps: to fail a backoff that grows it would
  // have to stretch all 13 past 500 ms.
  const std::vector<std::string> loops{"/v1/catalog/services",
                                       "/v1/health/service/web"};
  auto decided = [&](const std::string& path) {
    auto gaps = retry_gaps(agent, path, storm_began);
    return gaps.size() >= storm_gaps || longest(gaps) >= 1000;
  };
  REQUIRE(
      eventually([&] { return decided(loops[0]) && decided(loops[1]); }, 60s));
  for (const auto& path : loops) {
    auto gaps = retry_gaps(agent, path, storm_began);
    gaps.resize(std::min(gaps.size(), storm_gaps));
    CAPTURE(path, gaps);
    REQUIRE_FALSE(gaps.empty());
    // Some retries come quickly (a fixed slow interval fails here)...
    CHECK(shortest(gaps) < 500);
    // ...and others wait far longer than a fixed interval could.
    CHECK(longest(gaps) >= 1000);
    CHECK(longest(gaps) >= 4 * shortest(gaps));
  }
  CHECK(discovery.get_services().size() == 1);
  agent.register_instance(instance("api-1", "api", "127.0.2.1", 9000));
  agent.set_failure_mode(0);
  CHECK(eventually([&] { return !discovery.snapshot()->stale; }, 10s));
  CHECK(converges(discovery, agent));
}

TEST_CASE("consul: an answer that is not JSON is skipped and counted",
          "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("web-a", "web", "127.0.0.1", 8080));
  ServiceDiscovery discovery{consul_config(agent)};
  discovery.start();
  auto before = discovery.get_service("web");
  agent.set_garbage_mode("/v1/health/service/web", true);
  agent.set_check_status("web-a", "critical");
  CHECK(eventually(
      [&] { return discovery.backend_metrics().unreadable_values >= 1; }, 5s));
  CHECK(discovery.get_service("web") == before); // the last good answer
  agent.set_garbage_mode("/v1/health/service/web", false);
  agent.set_check_status("web-a", "warning");
  CHECK(converges(discovery, agent));
}

TEST_CASE("consul: service_prefix selects by name prefix or tag",
          "[consul][backend]") {
  consul_emulator agent;
  agent.register_instance(instance("a", "orasi-web", "127.0.0.1", 80));
  auto tagged = instance("b", "billing", "127.0.0.2", 80);
  tagged.tags = {"orasi-"};
  agent.register_instance(tagged);
  agent.register_instance(instance("c", "other", "127.0.0.3", 80));
  auto config = consul_config(agent);
  config.service_discovery.consul.service_prefix = "orasi-";
  ServiceDiscovery discovery{config};
  discovery.start();
  auto services = discovery.get_services();
  CHECK(services.size() == 2);
  CHECK(services.count("orasi-web") == 1);
  CHECK(services.count("billing") == 1);
}

TEST_CASE("consul end to end: register, discover, probe, deregister, by "
          "config alone",
          "[consul][e2e]") {
  consul_emulator agent;
  test::http_test_server endpoint;
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Consul;
  sd.endpoints = {agent.url()};
  sd.consul.wait = 2s;
  auto& hc = sd.health_check;
  hc.interval = 100ms;
  hc.fast_interval = 100ms;
  hc.timeout = 200ms;
  hc.retries = 0;
  hc.success_threshold = 1;
  hc.failure_threshold = 2;
  ServiceDiscovery writer{config};
  ServiceDiscovery reader{config};
  writer.start();
  reader.start();
  ServiceInfo info;
  info.name = "web";
  info.endpoints.push_back(
      ServiceEndpoint{"http://127.0.0.1:" + std::to_string(endpoint.port()),
                      1,
                      EndpointHealthStatus::Unknown,
                      {}});
  writer.register_service("web", info);
  REQUIRE(
      eventually([&] { return reader.get_service("web").has_value(); }, 5s));
  auto routable = [&] { return reader.get_healthy_services().count("web"); };
  // health_source "both": Consul's new check is critical, which vetoes our
  // passing probes until Consul passes it too.
  CHECK_FALSE(routable());
  agent.set_check_status("web", "passing");
  CHECK(eventually([&] { return routable() == 1; }, 5s));
  endpoint.set_behavior(test::server_behavior::answer(503));
  CHECK(eventually([&] { return routable() == 0; }, 5s));
  endpoint.set_behavior(test::server_behavior::answer(200));
  CHECK(eventually([&] { return routable() == 1; }, 5s));
  writer.deregister_service("web");
  CHECK(eventually([&] { return !reader.get_service("web"); }, 5s));
}
