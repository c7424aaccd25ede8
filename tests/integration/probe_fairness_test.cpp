// Fairness: endpoints that hang must not delay the checks of healthy ones.
// 1,000 endpoints, half of them blackholed; the healthy half's check
// intervals, seen by the server, never include a wait for a blackholed
// attempt. The bounds follow from the settings and only a check held up by
// a hanging one breaks them; how close intervals stay to the interval is a
// measurement, in bench/RESULTS.md (probe capacity).
#include <algorithm>
#include <map>

#include <catch2/catch.hpp>
#include <sys/resource.h>

#include "runtime/service_discovery.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

void raise_open_file_limit() {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

/// 100 services of 10 endpoints; endpoint i has path prefix /e<i>.
ServiceMap fleet(const std::string& base, int first, int count) {
  ServiceMap services;
  for (int i = first; i < first + count; ++i) {
    auto id = "svc-" + std::to_string(i / 10);
    auto& service = services[id];
    service.name = id;
    service.endpoints.push_back(ServiceEndpoint{
        base + "/e" + std::to_string(i), 1, EndpointHealthStatus::Unknown, {}});
  }
  return services;
}

/// Intervals between consecutive requests per path prefix, for requests
/// after `since`.
std::vector<double>
intervals_ms(const std::vector<test::recorded_request>& requests,
             std::chrono::steady_clock::time_point since) {
  std::map<std::string, std::chrono::steady_clock::time_point> last;
  std::vector<double> result;
  for (const auto& request : requests) {
    auto prefix = request.target.substr(0, request.target.find('/', 1));
    auto previous = last.find(prefix);
    if (previous != last.end() && previous->second >= since)
      result.push_back(std::chrono::duration<double, std::milli>(
                           request.at - previous->second)
                           .count());
    last[prefix] = request.at;
  }
  return result;
}

/// Whether every one of `endpoints` path prefixes got at least `count`
/// requests at or after `since`.
bool each_requested(const std::vector<test::recorded_request>& requests,
                    std::chrono::steady_clock::time_point since,
                    size_t endpoints, size_t count) {
  std::map<std::string, size_t> seen;
  for (const auto& request : requests)
    if (request.at >= since)
      ++seen[request.target.substr(0, request.target.find('/', 1))];
  return seen.size() >= endpoints &&
         std::all_of(seen.begin(), seen.end(),
                     [&](const auto& entry) { return entry.second >= count; });
}

} // namespace

TEST_CASE("fairness: with half of 1,000 endpoints blackholed, the healthy "
          "half keeps its check interval",
          "[health][fairness]") {
  raise_open_file_limit();
  test::http_test_server_options healthy_options;
  healthy_options.record_requests = true;
  test::http_test_server healthy{healthy_options};
  test::http_test_server_options blackhole_options;
  blackhole_options.behavior = test::server_behavior::blackhole();
  test::http_test_server blackhole{blackhole_options};

  GatewayConfig config;
  auto& hc = config.service_discovery.health_check;
  hc.interval = 500ms;
  hc.fast_interval = 250ms;
  hc.jitter_percent = 10;
  hc.timeout = 500ms; // every blackholed check: 2 attempts of 500 ms
  hc.retries = 1;
  auto& services = config.service_discovery.services;
  services =
      fleet("http://127.0.0.1:" + std::to_string(healthy.port()), 0, 500);
  for (auto& [id, service] :
       fleet("http://127.0.0.1:" + std::to_string(blackhole.port()), 500, 500))
    services.emplace("hang-" + id, std::move(service));

  ServiceDiscovery discovery{config};
  discovery.start();
  REQUIRE(test::eventually(
      [&] {
        size_t routable = 0;
        discovery.with_snapshot([&](const RegistrySnapshot& snapshot) {
          for (auto& [id, service] : snapshot.healthy)
            routable += service.endpoints.size();
        });
        return routable == 500;
      },
      20s));
  // Six more checks of every healthy endpoint (~3.5 s when fair).
  auto measured_from = std::chrono::steady_clock::now();
  bool checked = test::eventually(
      [&] {
        return each_requested(healthy.recorded_requests(), measured_from, 500,
                              7);
      },
      30s);
  auto intervals = intervals_ms(healthy.recorded_requests(), measured_from);
  auto timeouts = discovery.probe_metrics().attempts_failed.at("timeout");
  discovery.stop();

  REQUIRE_FALSE(intervals.empty());
  std::sort(intervals.begin(), intervals.end());
  auto within =
      std::count_if(intervals.begin(), intervals.end(), [](double ms) {
        return ms >= 500 * 0.85 && ms <= 500 * 1.15; // interval +- jitter + 5%
      });
  auto median = intervals[intervals.size() / 2];
  INFO("intervals " << intervals.size() << ", min " << intervals.front()
                    << " ms, median " << median << " ms, max "
                    << intervals.back() << " ms, within +-15%: "
                    << static_cast<double>(within) / intervals.size() * 100
                    << "%");
  // Every healthy endpoint was checked six more times within 30 s.
  REQUIRE(checked);
  // A healthy check held up by a blackholed attempt is late by at least
  // that attempt's timeout: the typical one never is...
  const double longest_fair = 500 * 1.1;         // interval + jitter
  const double blackholed_attempt = 500;         // timeout
  const double blackholed_check = 2 * 500 + 100; // 2 attempts + backoff
  CHECK(median < longest_fair + blackholed_attempt);
  // ...and none waited for a whole blackholed check (twice over: a shared
  // machine stalls now and then).
  CHECK(intervals.back() < 2 * (longest_fair + blackholed_check));
  // The blackholed half really was probed meanwhile.
  CHECK(timeouts > 500);
}
