// The prober engine against a scripted HTTP server on loopback: each way a
// server can answer or misbehave ends in the right attempt_result, keep-alive
// reuses connections, one slow endpoint never delays another, and no socket
// leaks on any path.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/http_prober.hpp"
#include "test_support.hpp"
#include "tests/support/http_test_server.hpp"

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace Catch {

template <>
struct StringMaker<probe_failure> {
  static std::string convert(probe_failure x) { return to_string(x); }
};

} // namespace Catch

namespace {

constexpr auto default_timeout = 2s;

probe_target target_at(const std::string& host, uint16_t port,
                       bool tls = false) {
  probe_target target;
  target.tls = tls;
  target.host = host;
  target.port = port;
  auto bracketed =
      host.find(':') == std::string::npos ? host : "[" + host + "]";
  target.host_header = bracketed + ":" + std::to_string(port);
  target.path = "/health";
  return target;
}

probe_target target_of(const http_test_server& server, bool tls = false) {
  return target_at(server.host(), server.port(), tls);
}

attempt_request request_to(probe_target target,
                           caf::timespan timeout = default_timeout) {
  static uint64_t next_id = 1;
  attempt_request request;
  request.attempt_id = next_id++;
  request.target = std::move(target);
  request.timeout = timeout;
  return request;
}

/// Collects the results of attempts submitted at once. Its state is shared
/// with the completions, so it may go before the prober does.
class result_collector {
public:
  http_prober::completion completion() {
    return [state = state_](attempt_result result) {
      std::lock_guard<std::mutex> guard{state->mutex};
      state->results.push_back(std::move(result));
      state->changed.notify_all();
    };
  }

  /// The first `count` results, in completion order; fewer on timeout.
  std::vector<attempt_result> wait_for(size_t count) {
    std::unique_lock<std::mutex> guard{state_->mutex};
    state_->changed.wait_for(guard, 10s,
                             [&] { return state_->results.size() >= count; });
    return state_->results;
  }

private:
  struct shared_state {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<attempt_result> results;
  };
  std::shared_ptr<shared_state> state_ = std::make_shared<shared_state>();
};

/// Submits one attempt and waits for its result.
attempt_result run_attempt(http_prober& prober, attempt_request request) {
  result_collector collector;
  prober.submit(std::move(request), collector.completion());
  auto results = collector.wait_for(1);
  REQUIRE(results.size() == 1);
  return results.front();
}

attempt_result probe(http_prober& prober, probe_target target,
                     caf::timespan timeout = default_timeout) {
  return run_attempt(prober, request_to(std::move(target), timeout));
}

/// Latencies in whole milliseconds, so that failed checks print numbers.
long long ms(caf::timespan latency) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(latency).count();
}

size_t open_descriptors() {
  auto entries = std::filesystem::directory_iterator("/proc/self/fd");
  return static_cast<size_t>(std::distance(begin(entries), end(entries)));
}

http_test_server_options serving(server_behavior behavior) {
  http_test_server_options options;
  options.behavior = std::move(behavior);
  return options;
}

http_prober_options without_keep_alive() {
  http_prober_options options;
  options.keep_alive = false;
  return options;
}

} // namespace

TEST_CASE("any complete response is a result with its status, never judged",
          "[prober]") {
  http_test_server server;
  http_prober prober;
  for (uint16_t status : {200, 500, 429}) {
    server.set_behavior(server_behavior::answer(status));
    auto result = probe(prober, target_of(server));
    CAPTURE(status, result.detail);
    CHECK(result.failure == probe_failure::none);
    CHECK(result.status == status);
    CHECK(result.latency > caf::timespan{0});
  }
}

TEST_CASE("redirects are reported, not followed", "[prober]") {
  http_test_server server{serving(server_behavior::redirect(302, "/moved"))};
  http_prober prober;
  auto result = probe(prober, target_of(server));
  CHECK(result.failure == probe_failure::none);
  CHECK(result.status == 302);
  CHECK(server.requests_received() == 1);
}

TEST_CASE("a port with nothing listening is refused", "[prober]") {
  http_prober prober;
  auto result = probe(prober, target_at("127.0.0.1", refused_port()));
  CHECK(result.failure == probe_failure::refused);
  CHECK(result.status == 0);
}

TEST_CASE("a server that never answers times out at the deadline", "[prober]") {
  http_test_server server{serving(server_behavior::blackhole())};
  http_prober prober;
  auto result = probe(prober, target_of(server), 200ms);
  CHECK(result.failure == probe_failure::timeout);
  CHECK(ms(result.latency) >= 200);
  CHECK(ms(result.latency) < 2000);
  CHECK_THAT(result.detail, Catch::Contains("no response within 200 ms"));
}

TEST_CASE("an answer that comes after the deadline is a timeout", "[prober]") {
  http_test_server server{serving(server_behavior::slow(600ms))};
  http_prober prober;
  auto result = probe(prober, target_of(server), 200ms);
  CHECK(result.failure == probe_failure::timeout);
  CHECK(result.status == 0);
}

TEST_CASE("a body over the limit fails and the connection is dropped",
          "[prober]") {
  http_test_server server{serving(server_behavior::huge_body())};
  http_prober prober;
  auto result = probe(prober, target_of(server));
  CHECK(result.failure == probe_failure::body_too_large);
  CHECK(result.detail == "body over 65536 bytes");
  CHECK(eventually([&] { return server.open_connections() == 0; }, 5s));
  CHECK(prober.open_connections() == 0);
}

TEST_CASE("responses that are not HTTP are protocol errors", "[prober]") {
  http_test_server server;
  http_prober prober;
  SECTION("a garbage status line") {
    server.set_behavior(server_behavior::garbage_status_line());
    auto result = probe(prober, target_of(server));
    CHECK(result.failure == probe_failure::protocol_error);
    CHECK_THAT(result.detail, Catch::StartsWith("invalid HTTP response"));
  }
  SECTION("a connection closed mid-response") {
    server.set_behavior(server_behavior::close_mid_response());
    auto result = probe(prober, target_of(server));
    CHECK(result.failure == probe_failure::protocol_error);
    CHECK(result.detail == "connection closed mid-response");
  }
  SECTION("a fresh connection closed before responding is not retried") {
    server.set_behavior(server_behavior::close_without_response());
    auto result = probe(prober, target_of(server));
    CHECK(result.failure == probe_failure::protocol_error);
    CHECK(result.detail == "connection closed before responding");
    CHECK(server.connections_accepted() == 1);
  }
  CHECK(eventually([&] { return prober.open_connections() == 0; }));
}

TEST_CASE("https works against a self-signed certificate with verification "
          "off",
          "[prober][tls]") {
  http_test_server_options options;
  options.tls = true;
  http_test_server server{options};
  http_prober prober;
  for (int i = 0; i < 3; ++i) {
    auto result = probe(prober, target_of(server, true));
    CAPTURE(result.detail);
    CHECK(result.failure == probe_failure::none);
    CHECK(result.status == 200);
  }
  CHECK(server.connections_accepted() == 1); // TLS connections are pooled too
}

TEST_CASE("https with verification on rejects a self-signed certificate",
          "[prober][tls]") {
  http_test_server_options options;
  options.tls = true;
  http_test_server server{options};
  http_prober_options verifying;
  verifying.tls_verify = true;
  http_prober prober{verifying};
  auto result = probe(prober, target_at("localhost", server.port(), true));
  CHECK(result.failure == probe_failure::tls);
  CHECK(server.requests_received() == 0);
}

TEST_CASE("an IPv6 literal is probed", "[prober]") {
  if (!ipv6_loopback_available()) {
    WARN("skipped: ::1 cannot be bound here");
    return;
  }
  http_test_server_options options;
  options.ipv6 = true;
  http_test_server server{options};
  http_prober prober;
  auto result = probe(prober, target_of(server));
  CAPTURE(result.detail);
  CHECK(result.failure == probe_failure::none);
  CHECK(result.status == 200);
}

TEST_CASE("host names are resolved", "[prober]") {
  http_test_server server;
  http_prober prober;
  auto result = probe(prober, target_at("localhost", server.port()));
  CAPTURE(result.detail);
  CHECK(result.failure == probe_failure::none);
  CHECK(result.status == 200);
}

TEST_CASE("a host name that does not resolve is a resolve failure",
          "[prober]") {
  http_prober prober;
  auto result = probe(prober, target_at("no-such-host.invalid", 80));
  CAPTURE(result.detail);
  // Without a reachable DNS server the lookup outlives the deadline instead.
  bool slow_lookup = result.failure == probe_failure::timeout &&
                     result.detail.find("resolving") != std::string::npos;
  CHECK((result.failure == probe_failure::resolve || slow_lookup));
}

TEST_CASE("keep-alive reuses one connection for sequential attempts",
          "[prober][keep-alive]") {
  http_test_server server;
  http_prober prober;
  for (int i = 0; i < 20; ++i)
    REQUIRE(probe(prober, target_of(server)).status == 200);
  CHECK(server.connections_accepted() == 1);
  CHECK(server.requests_received() == 20);
  CHECK(prober.open_connections() == 1);
  CHECK(prober.in_flight() == 0);
}

TEST_CASE("without keep-alive every attempt has its own connection",
          "[prober][keep-alive]") {
  http_test_server server;
  http_prober prober{without_keep_alive()};
  for (int i = 0; i < 20; ++i)
    REQUIRE(probe(prober, target_of(server)).status == 200);
  CHECK(server.connections_accepted() == 20);
  CHECK(eventually([&] { return prober.open_connections() == 0; }));
}

TEST_CASE("idle pooled connections close after the idle timeout",
          "[prober][keep-alive]") {
  http_test_server server;
  http_prober_options options;
  options.idle_timeout = 50ms;
  http_prober prober{options};
  REQUIRE(probe(prober, target_of(server)).status == 200);
  CHECK(eventually([&] { return prober.open_connections() == 0; }, 2s));
  CHECK(eventually([&] { return server.open_connections() == 0; }, 2s));
}

TEST_CASE("the pool keeps at most max_idle_per_host connections per host",
          "[prober][keep-alive]") {
  // Slow answers make the attempts overlap, so each opens its own.
  http_test_server server{serving(server_behavior::slow(100ms))};
  http_prober_options options;
  options.max_idle_per_host = 3;
  http_prober prober{options};
  result_collector collector;
  for (int i = 0; i < 10; ++i)
    prober.submit(request_to(target_of(server)), collector.completion());
  REQUIRE(collector.wait_for(10).size() == 10);
  CHECK(server.connections_accepted() == 10);
  CHECK(prober.open_connections() == 3);
  CHECK(eventually([&] { return server.open_connections() == 3; }));
}

TEST_CASE("a connection the server closed while idle is replaced",
          "[prober][keep-alive]") {
  http_test_server server;
  http_prober prober;
  REQUIRE(probe(prober, target_of(server)).status == 200);
  server.close_idle_connections();
  auto result = probe(prober, target_of(server));
  CAPTURE(result.detail);
  CHECK(result.failure == probe_failure::none);
  CHECK(result.status == 200);
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("a pooled connection dropped on reuse is retried once on a fresh "
          "one",
          "[prober][keep-alive]") {
  auto behavior = server_behavior::answer(200);
  behavior.drop_reused_connections = true;
  http_test_server server{serving(behavior)};
  http_prober prober;
  for (int i = 0; i < 3; ++i) {
    auto result = probe(prober, target_of(server));
    CAPTURE(i, result.detail);
    CHECK(result.failure == probe_failure::none);
    CHECK(result.status == 200);
  }
  // Each reuse: one request dropped, then one on a fresh connection.
  CHECK(server.connections_accepted() == 3);
  CHECK(server.requests_received() == 5);
}

TEST_CASE("a blackholed endpoint never delays a healthy one",
          "[prober][concurrency]") {
  http_test_server blackhole{serving(server_behavior::blackhole())};
  http_test_server healthy;
  http_prober prober;
  result_collector healthy_results;
  result_collector blackhole_results;
  for (int i = 0; i < 200; ++i) {
    prober.submit(request_to(target_of(blackhole)),
                  blackhole_results.completion());
    prober.submit(request_to(target_of(healthy)), healthy_results.completion());
  }
  auto fast = healthy_results.wait_for(200);
  REQUIRE(fast.size() == 200);
  auto slowest =
      std::max_element(fast.begin(), fast.end(),
                       [](auto& x, auto& y) { return x.latency < y.latency; });
  CHECK(ms(slowest->latency) < 1000); // the blackholed ones wait 2 s
  CHECK(std::all_of(fast.begin(), fast.end(),
                    [](auto& x) { return x.status == 200; }));
  auto timed_out = blackhole_results.wait_for(200);
  REQUIRE(timed_out.size() == 200);
  CHECK(std::all_of(timed_out.begin(), timed_out.end(), [](auto& x) {
    return x.failure == probe_failure::timeout;
  }));
}

TEST_CASE("no descriptor leaks after 1000 attempts against bad servers",
          "[prober][resources]") {
  http_test_server blackhole{serving(server_behavior::blackhole())};
  http_test_server garbage{serving(server_behavior::garbage_status_line())};
  http_test_server truncating{serving(server_behavior::close_mid_response())};
  http_test_server huge{serving(server_behavior::huge_body())};
  http_test_server healthy;
  auto refused = target_at("127.0.0.1", refused_port());
  http_prober prober;
  // One idle pooled connection, to see that it survives and is counted.
  REQUIRE(probe(prober, target_of(healthy)).status == 200);
  auto before = open_descriptors();

  for (int batch = 0; batch < 10; ++batch) {
    result_collector collector;
    for (int i = 0; i < 20; ++i) {
      prober.submit(request_to(target_of(blackhole), 50ms),
                    collector.completion());
      prober.submit(request_to(target_of(garbage)), collector.completion());
      prober.submit(request_to(target_of(truncating)), collector.completion());
      prober.submit(request_to(target_of(huge)), collector.completion());
      prober.submit(request_to(refused), collector.completion());
    }
    auto results = collector.wait_for(100);
    REQUIRE(results.size() == 100);
    REQUIRE(std::none_of(results.begin(), results.end(), [](auto& x) {
      return x.failure == probe_failure::none;
    }));
  }

  CHECK(prober.in_flight() == 0);
  CHECK(eventually([&] { return prober.open_connections() == 1; }));
  for (auto* server : {&blackhole, &garbage, &truncating, &huge})
    CHECK(eventually([&] { return server->open_connections() == 0; }, 5s));
  auto after = open_descriptors();
  CHECK(after <= before + 4);
  CHECK(after + 4 >= before);
}

TEST_CASE("destroying the prober drops attempts in flight without calling "
          "them",
          "[prober]") {
  http_test_server server{serving(server_behavior::blackhole())};
  auto called = std::make_shared<std::atomic<bool>>(false);
  {
    http_prober prober;
    prober.submit(request_to(target_of(server), 10s),
                  [called](attempt_result) { *called = true; });
    REQUIRE(eventually([&] { return server.requests_received() == 1; }));
    CHECK(prober.in_flight() == 1);
    CHECK(prober.open_connections() == 1);
  }
  CHECK_FALSE(*called);
  CHECK(eventually([&] { return server.open_connections() == 0; }));
}
