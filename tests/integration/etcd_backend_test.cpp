// The etcd backend against real etcd processes (tests/integration/
// etcd_fixture): discovery by watch, registrations on a lease, failover in a
// 3-member cluster, outages, compaction, lost leases and garbage values. Each
// fault test ends by checking that the registry equals etcd's contents.
#include <csignal>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "backends/etcd_source.hpp"
#include "etcd_fixture.hpp"
#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "runtime/service_discovery.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
using test::etcd_cluster;
using test::eventually;

namespace {

const std::string services_prefix = "/orasi/services/";

ServiceInfo service(const std::string& name, std::vector<std::string> urls) {
  ServiceInfo info;
  info.name = name;
  for (auto& url : urls)
    info.endpoints.push_back(
        ServiceEndpoint{url, 1, EndpointHealthStatus::Healthy, {}});
  return info;
}

std::string value_of(const std::string& name, const std::string& url) {
  return encode(service(name, {url}));
}

/// Probes off: these tests are about the backend; endpoints are declared
/// Healthy and do not exist. The refresh safety net is far away, so that
/// only the watch can explain a change showing up.
GatewayConfig etcd_config(const std::vector<std::string>& endpoints) {
  GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Etcd;
  sd.endpoints = endpoints;
  sd.refresh_interval = 10min;
  sd.health_check.enabled = false;
  sd.etcd.lease_ttl = 15s;
  sd.etcd.dial_timeout = 500ms;
  sd.etcd.request_timeout = 2s;
  return config;
}

/// etcd's parseable services under the prefix, decoded.
ServiceMap etcd_services(etcd_cluster& cluster) {
  ServiceMap out;
  for (auto& [key, value] : cluster.read_prefix(services_prefix)) {
    auto info = decode_service(std::string_view{value}, key);
    if (info)
      out.emplace(key.substr(services_prefix.size()), std::move(*info));
  }
  return out;
}

/// What a backend says about a service, without the health the registry
/// derives (service health follows from the endpoints).
std::string stored_content(ServiceInfo info) {
  info.health_status = ServiceHealthStatus::Unknown;
  return encode(info);
}

/// The registry holds exactly etcd's services.
bool registry_equals_etcd(ServiceDiscovery& discovery, etcd_cluster& cluster) {
  auto registry = discovery.get_services();
  auto etcd = etcd_services(cluster);
  if (registry.size() != etcd.size())
    return false;
  for (auto& [id, info] : etcd) {
    auto it = registry.find(id);
    if (it == registry.end() ||
        stored_content(it->second) != stored_content(info))
      return false;
  }
  return true;
}

/// After a kill, etcdctl writes fail until the others have elected a leader.
void await_leader(etcd_cluster& cluster) {
  REQUIRE(eventually([&] { return cluster.leader().has_value(); }, 10s));
}

bool converges(ServiceDiscovery& discovery, etcd_cluster& cluster,
               std::chrono::milliseconds timeout = 15s) {
  return eventually([&] { return registry_equals_etcd(discovery, cluster); },
                    timeout);
}

void put_services(etcd_cluster& cluster, const std::string& tag, int count) {
  for (int i = 0; i < count; ++i) {
    auto id = tag + "-" + std::to_string(i);
    cluster.put(services_prefix + id,
                value_of(tag, "http://127.1.0." + std::to_string(i) + ":80"));
  }
}

backends::etcd_source_options source_options(etcd_cluster& cluster) {
  backends::etcd_source_options options;
  options.client.endpoints = cluster.client_urls();
  options.client.dial_timeout = 500ms;
  options.client.request_timeout = 2s;
  return options;
}

/// Applies poll() results to `services` until `done` holds.
bool poll_until(backends::etcd_source& source, ServiceMap& services,
                const std::function<bool()>& done) {
  return eventually([&] {
    auto update = source.poll();
    if (update && *update) {
      auto& u = **update;
      if (u.full)
        services = u.listing.services;
      else
        for (auto& [id, info] : u.listing.services)
          services[id] = info;
      for (auto& id : u.removals)
        services.erase(id);
    }
    return done();
  });
}

} // namespace

TEST_CASE("etcd: the initial listing, then etcdctl puts and deletes arrive "
          "by watch",
          "[etcd][backend]") {
  etcd_cluster cluster;
  put_services(cluster, "seed", 3);
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  CHECK(discovery.get_services().size() == 3);
  CHECK(registry_equals_etcd(discovery, cluster));

  cluster.put(services_prefix + "new-1",
              value_of("new", "http://127.2.0.1:80"));
  CHECK(eventually([&] { return discovery.get_service("new-1").has_value(); },
                   2s));
  cluster.put(services_prefix + "new-1",
              value_of("new", "http://127.2.0.2:80"));
  CHECK(eventually(
      [&] {
        auto found = discovery.get_service("new-1");
        return found && found->endpoints.at(0).url == "http://127.2.0.2:80";
      },
      2s));
  cluster.del(services_prefix + "seed-0");
  CHECK(eventually([&] { return !discovery.get_service("seed-0"); }, 2s));
  // Keys outside <prefix>/services/ are not services.
  cluster.put("/orasi/other/x", value_of("x", "http://127.3.0.1:80"));
  cluster.put("/elsewhere/services/y", value_of("y", "http://127.3.0.1:80"));
  CHECK(converges(discovery, cluster));
  CHECK(discovery.get_services().size() == 3);
  CHECK(discovery.backend_metrics().backend == "etcd");
  CHECK_FALSE(discovery.snapshot()->stale);
}

TEST_CASE("etcd: a registration is an etcd key on this instance's lease, "
          "gone on deregister and on stop",
          "[etcd][backend]") {
  etcd_cluster cluster;
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  auto info = service("api", {"http://127.0.0.1:8080"});
  discovery.register_service("api-1", info);
  // Read-your-writes: visible at once on this instance.
  REQUIRE(discovery.get_service("api-1"));
  CHECK(stored_content(*discovery.get_service("api-1")) ==
        stored_content(info));

  auto stored = cluster.read_prefix(services_prefix);
  REQUIRE(stored.count(services_prefix + "api-1") == 1);
  CHECK(decode_service(std::string_view{stored[services_prefix + "api-1"]})
            .value() == info);
  auto lease = cluster.lease_of(services_prefix + "api-1");
  REQUIRE(lease);
  CHECK(*lease != 0);

  discovery.register_service("api-2", info);
  CHECK(cluster.lease_of(services_prefix + "api-2") == lease);
  discovery.deregister_service("api-2");
  CHECK(cluster.read_prefix(services_prefix).count(services_prefix + "api-2") ==
        0);
  CHECK_FALSE(discovery.get_service("api-2"));
  try {
    discovery.deregister_service("api-2");
    FAIL("deregistering an absent service must fail");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::not_found);
  }

  // Stopping revokes the lease: the registration does not outlive us.
  discovery.stop();
  CHECK(cluster.read_prefix(services_prefix).empty());
}

TEST_CASE("etcd: a garbage value is skipped and counted, and never wipes "
          "other services",
          "[etcd][backend]") {
  etcd_cluster cluster;
  put_services(cluster, "ok", 2);
  cluster.put(services_prefix + "broken", "{not json");
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  CHECK(discovery.get_services().size() == 2);
  CHECK(discovery.backend_metrics().unreadable_values == 1);

  // A bad write over a good value keeps the last good one.
  auto before = discovery.get_service("ok-0");
  cluster.put(services_prefix + "ok-0", R"({"name": 42})");
  cluster.put(services_prefix + "ok-2", value_of("ok", "http://127.1.0.2:80"));
  REQUIRE(eventually([&] { return discovery.get_service("ok-2").has_value(); },
                     2s));
  CHECK(discovery.get_service("ok-0") == before);
  CHECK(discovery.get_services().size() == 3);
  CHECK(discovery.backend_metrics().unreadable_values == 2);
  // Fixed, it is taken.
  cluster.put(services_prefix + "ok-0", value_of("ok", "http://127.9.9.9:80"));
  CHECK(converges(discovery, cluster));
}

TEST_CASE("etcd: killing the member the client watches loses no update",
          "[etcd][backend][cluster]") {
  etcd_cluster cluster{3};
  put_services(cluster, "before", 5);
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  REQUIRE(converges(discovery, cluster));
  // Endpoints are tried in order: the watch runs on member 0.
  cluster.kill(0);
  await_leader(cluster);
  put_services(cluster, "during", 10);
  cluster.del(services_prefix + "before-1");
  CHECK(converges(discovery, cluster));
  CHECK(discovery.get_services().size() == 14);
  CHECK(discovery.backend_metrics().reconnects >= 1);
  // Writes through the API fail over too.
  discovery.register_service("api-1", service("api", {"http://127.0.0.1:80"}));
  CHECK(cluster.lease_of(services_prefix + "api-1"));
  cluster.restart(0);
  put_services(cluster, "after", 2);
  CHECK(converges(discovery, cluster));
}

TEST_CASE("etcd: a 3-member cluster keeps working when any one member is "
          "killed",
          "[etcd][backend][cluster]") {
  etcd_cluster cluster{3};
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  for (size_t victim = 0; victim < 3; ++victim) {
    CAPTURE(victim);
    cluster.kill(victim);
    await_leader(cluster);
    put_services(cluster, "round" + std::to_string(victim), 3);
    discovery.register_service("mine-" + std::to_string(victim),
                               service("mine", {"http://127.0.0.1:80"}));
    CHECK(converges(discovery, cluster));
    cluster.restart(victim);
  }
  CHECK(discovery.get_services().size() == 12);
  CHECK(converges(discovery, cluster));
}

TEST_CASE("etcd: while etcd is down the last services are served stale, "
          "after it returns the registry converges",
          "[etcd][backend][cluster]") {
  etcd_cluster cluster{3};
  put_services(cluster, "a", 4);
  // This instance knows only member 0: killing it is an outage for us
  // while the others go on taking writes.
  ServiceDiscovery discovery{etcd_config({cluster.client_url(0)})};
  discovery.start();
  REQUIRE(converges(discovery, cluster));
  cluster.kill(0);
  REQUIRE(eventually([&] { return discovery.snapshot()->stale; }, 10s));
  CHECK(discovery.get_services().size() == 4);
  CHECK(discovery.backend_metrics().stale);

  await_leader(cluster);
  put_services(cluster, "b", 3);
  cluster.del(services_prefix + "a-0");
  cluster.del(services_prefix + "a-1");
  CHECK(discovery.get_services().size() == 4); // still the last known
  cluster.restart(0);
  CHECK(eventually([&] { return !discovery.snapshot()->stale; }, 15s));
  CHECK(converges(discovery, cluster));
  CHECK(discovery.get_services().size() == 5);
}

TEST_CASE("etcd: a watch whose start revision was compacted re-lists",
          "[etcd][backend]") {
  etcd_cluster cluster;
  put_services(cluster, "a", 2);
  auto options = source_options(cluster);
  // An idle watch is re-created from its next revision: with other keys
  // written and compacted meanwhile, that revision is gone.
  options.watch_idle_timeout = 1s;
  backends::etcd_source source{options};
  auto listing = source.list();
  REQUIRE(listing);
  ServiceMap services = listing->services;
  CHECK(services.size() == 2);

  for (int i = 0; i < 5; ++i)
    cluster.put("/unrelated/key", std::to_string(i));
  cluster.compact(cluster.current_revision());
  CHECK(poll_until(source, services,
                   [&] { return source.counters().relists >= 1; }));
  put_services(cluster, "b", 1);
  CHECK(
      poll_until(source, services, [&] { return services.count("b-0") == 1; }));
  CHECK(services.size() == 3);
}

TEST_CASE("etcd: listings are read in pages at one revision",
          "[etcd][backend]") {
  etcd_cluster cluster;
  put_services(cluster, "svc", 25);
  auto options = source_options(cluster);
  options.page_size = 4;
  backends::etcd_source source{options};
  auto listing = source.list();
  REQUIRE(listing);
  CHECK(listing->services.size() == 25);
  CHECK(static_cast<int64_t>(listing->revision) == cluster.current_revision());
}

TEST_CASE("etcd: a lost lease is granted again and every registration "
          "written again",
          "[etcd][backend]") {
  etcd_cluster cluster;
  auto config = etcd_config(cluster.client_urls());
  config.service_discovery.etcd.lease_ttl = 3s;
  ServiceDiscovery discovery{config};
  discovery.start();
  discovery.register_service("api-1", service("api", {"http://127.0.0.1:80"}));
  discovery.register_service("api-2", service("api", {"http://127.0.0.2:80"}));
  auto lease = cluster.lease_of(services_prefix + "api-1");
  REQUIRE(lease);

  // As if it expired while we were partitioned away: the keys go with it.
  std::stringstream hex;
  hex << std::hex << *lease;
  REQUIRE(cluster.etcdctl({"lease", "revoke", hex.str()}).ok());
  // A registration before the keeper notices finds the lease gone (etcd
  // answers "lease not found") and writes on a new one.
  discovery.register_service("api-3", service("api", {"http://127.0.0.3:80"}));
  CHECK(cluster.lease_of(services_prefix + "api-3") != lease);
  CHECK(eventually(
      [&] {
        auto now = cluster.lease_of(services_prefix + "api-2");
        return cluster.lease_of(services_prefix + "api-1") && now &&
               *now != *lease;
      },
      10s));
  CHECK(converges(discovery, cluster));
  CHECK(discovery.get_services().size() == 3);
}

TEST_CASE("etcd: a lease that expires while this instance is cut off is "
          "replaced when it is back",
          "[etcd][backend][cluster]") {
  etcd_cluster cluster{3};
  auto config = etcd_config({cluster.client_url(0)});
  config.service_discovery.etcd.lease_ttl = 2s;
  ServiceDiscovery discovery{config};
  discovery.start();
  discovery.register_service("api-1", service("api", {"http://127.0.0.1:80"}));
  auto lease = cluster.lease_of(services_prefix + "api-1");
  REQUIRE(lease);
  // Freezing member 0 cuts us off without closing connections; the other
  // two keep a quorum and let the lease expire.
  ::kill(cluster.pid(0), SIGSTOP);
  CHECK(eventually([&] { return !cluster.lease_of(services_prefix + "api-1"); },
                   15s));
  ::kill(cluster.pid(0), SIGCONT);
  CHECK(eventually(
      [&] {
        auto now = cluster.lease_of(services_prefix + "api-1");
        return now && *now != *lease;
      },
      20s));
  CHECK(converges(discovery, cluster));
}

TEST_CASE("etcd: start() fails with backend_unavailable when no member "
          "answers",
          "[etcd][backend]") {
  auto config = etcd_config({"http://127.0.0.1:1"});
  ServiceDiscovery discovery{config};
  try {
    discovery.start();
    FAIL("start() must fail");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::backend_unavailable);
    CHECK_THAT(err.message(), Catch::Contains("127.0.0.1:1"));
  }
}

TEST_CASE("etcd: with auth enabled, the configured user gets a token and a "
          "new one when it expires",
          "[etcd][backend][auth]") {
  test::etcd_options options;
  options.extra_args = {"--auth-token-ttl=1"}; // seconds
  etcd_cluster cluster{1, options};
  REQUIRE(cluster.etcdctl({"user", "add", "root:s3cret", "--interactive=false"})
              .ok());
  REQUIRE(cluster.etcdctl({"auth", "enable"}).ok());
  const std::vector<std::string> as_root = {"--user=root:s3cret"};

  auto config = etcd_config(cluster.client_urls());
  config.service_discovery.etcd.username = "root";
  config.service_discovery.etcd.password = "s3cret";
  ServiceDiscovery discovery{config};
  discovery.start();
  discovery.register_service("api-1", service("api", {"http://127.0.0.1:80"}));
  auto get = [&](const std::string& key) {
    auto args = as_root;
    args.insert(args.end(), {"get", key, "--print-value-only"});
    return cluster.etcdctl(args);
  };
  CHECK_THAT(get(services_prefix + "api-1").out, Catch::Contains("\"api\""));

  // The token expires after a second; the next call fetches a new one.
  std::this_thread::sleep_for(2500ms);
  discovery.register_service("api-2", service("api", {"http://127.0.0.2:80"}));
  CHECK_THAT(get(services_prefix + "api-2").out, Catch::Contains("\"api\""));
  // And the watch, authenticated too, delivers others' writes.
  auto put = as_root;
  put.insert(put.end(), {"put", services_prefix + "other-1",
                         value_of("other", "http://127.0.0.3:80")});
  REQUIRE(cluster.etcdctl(put).ok());
  CHECK(eventually([&] { return discovery.get_service("other-1").has_value(); },
                   5s));

  // A wrong password fails start() without echoing the password.
  config.service_discovery.etcd.password = "wrong-pw";
  ServiceDiscovery intruder{config};
  try {
    intruder.start();
    FAIL("start() must fail");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::backend_rejected);
    CHECK_THAT(err.message(), Catch::Contains("root"));
    CHECK_THAT(err.message(), !Catch::Contains("wrong-pw"));
  }
}

TEST_CASE("etcd: with the watch off, changes arrive by the refresh re-list",
          "[etcd][backend]") {
  etcd_cluster cluster;
  put_services(cluster, "a", 1);
  auto config = etcd_config(cluster.client_urls());
  config.service_discovery.etcd.watch = false;
  config.service_discovery.refresh_interval = 300ms;
  ServiceDiscovery discovery{config};
  discovery.start();
  put_services(cluster, "b", 2);
  cluster.del(services_prefix + "a-0");
  CHECK(converges(discovery, cluster, 5s));
  CHECK(discovery.backend_metrics().reconnects == 0);
}

TEST_CASE("etcd: the watch's echo of older writes never undoes this "
          "instance's later ones",
          "[etcd][backend]") {
  etcd_cluster cluster;
  ServiceDiscovery discovery{etcd_config(cluster.client_urls())};
  discovery.start();
  auto first = service("api", {"http://127.0.0.1:80"});
  auto second = service("api", {"http://127.0.0.2:80"});
  int regressed = 0;
  int resurrected = 0;
  // Without revision tracking, the watch delivered the first put after the
  // second one was visible (every round), and a put after its delete.
  for (int round = 0; round < 40; ++round) {
    auto id = "svc-" + std::to_string(round);
    discovery.register_service(id, first);
    discovery.register_service(id, second);
    for (int k = 0; k < 10; ++k) {
      auto found = discovery.get_service(id);
      if (!found || found->endpoints.at(0).url != "http://127.0.0.2:80")
        ++regressed;
      std::this_thread::sleep_for(1ms);
    }
    discovery.deregister_service(id);
    for (int k = 0; k < 10; ++k) {
      if (discovery.get_service(id))
        ++resurrected;
      std::this_thread::sleep_for(1ms);
    }
  }
  CHECK(regressed == 0);
  CHECK(resurrected == 0);
  CHECK(converges(discovery, cluster));
}
