// The prober engine against a scripted HTTP server on loopback: each way a
// server can answer or misbehave ends in the right attempt_result, keep-alive
// reuses connections, one slow endpoint (or host name) never delays another,
// host names are looked up once per TTL, the prober's own shortages are not
// blamed on endpoints, and no socket leaks on any path.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probing/http_prober.hpp"
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

/// Lowers the soft RLIMIT_NOFILE while it lives; the old limit comes back
/// even when the test fails. It is process-wide: keep the scope to one
/// attempt (the test server's accept retries; nothing else opens files).
class descriptor_limit {
public:
  explicit descriptor_limit(rlim_t soft) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    auto lowered = saved_;
    lowered.rlim_cur = soft;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~descriptor_limit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

  descriptor_limit(const descriptor_limit&) = delete;
  descriptor_limit& operator=(const descriptor_limit&) = delete;

private:
  rlimit saved_{};
};

/// The descriptor the next open() would get: with the limit there, every
/// further open() fails with EMFILE while the open ones keep working.
rlim_t lowest_free_descriptor() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  ::close(fd);
  return static_cast<rlim_t>(fd);
}

/// Options whose resolver finds no host name at all (counting the lookups
/// in `asked`, if given): name resolution without any DNS server.
http_prober_options
resolving_nothing(std::shared_ptr<std::atomic<int>> asked = nullptr) {
  http_prober_options options;
  options.resolve_hook = [asked](const std::string&) {
    if (asked)
      ++*asked;
    return std::vector<std::string>{};
  };
  return options;
}

bool all_answered(const std::vector<attempt_result>& results, uint16_t status) {
  return std::all_of(results.begin(), results.end(),
                     [&](auto& x) { return x.status == status; });
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
  // ::1 is there on the machines this suite runs on: its absence is a
  // failure, not a pass. A machine without IPv6 opts out by name, and the
  // log says so.
  if (std::getenv("ORASI_TEST_NO_IPV6") != nullptr) {
    WARN("ORASI_TEST_NO_IPV6 is set: IPv6 probing is not tested");
    return;
  }
  REQUIRE(ipv6_loopback_available());
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
  // The resolver hook answers, so that no DNS server is asked and the
  // outcome is the same on every machine.
  http_prober prober{resolving_nothing()};
  auto result = probe(prober, target_at("no-such-host.invalid", 80));
  CHECK(result.failure == probe_failure::resolve);
  CHECK(result.detail == "cannot resolve no-such-host.invalid: not found "
                         "(resolve_hook)");
  CHECK(result.status == 0);
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

TEST_CASE("a connection the server closed while idle is replaced, and a "
          "farewell on it is no answer: the request goes on a fresh one",
          "[prober][keep-alive]") {
  http_test_server server;
  http_prober prober;
  REQUIRE(probe(prober, target_of(server)).status == 200);
  // The server closes the idle connection, plainly or with a farewell as
  // some servers and proxies do, just before the next check reuses it.
  std::string farewell;
  SECTION("a plain close") {}
  SECTION("408 Request Timeout") {
    farewell = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n";
  }
  SECTION("a 503 with Connection: close") {
    farewell = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
  }
  SECTION("bytes that are no HTTP answer") {
    farewell = "bye\r\n";
  }
  // The client has its answer before the server's session is back to
  // waiting for the next request: close until it really is closed.
  REQUIRE(eventually([&] {
    server.close_idle_connections(farewell);
    return server.open_connections() == 0;
  }));
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
  // Longer than the healthy attempts' own 2 s: one that waited for a
  // blackholed attempt would time out itself, or answer after it.
  const auto blackhole_deadline = 5s;
  for (int i = 0; i < 200; ++i) {
    prober.submit(request_to(target_of(blackhole), blackhole_deadline),
                  blackhole_results.completion());
    prober.submit(request_to(target_of(healthy)), healthy_results.completion());
  }
  auto fast = healthy_results.wait_for(200);
  auto blackholed_by_then = blackhole_results.wait_for(0).size();
  REQUIRE(fast.size() == 200);
  auto slowest =
      std::max_element(fast.begin(), fast.end(),
                       [](auto& x, auto& y) { return x.latency < y.latency; });
  CAPTURE(ms(slowest->latency));
  // Every healthy answer came before the first blackholed deadline.
  CHECK(blackholed_by_then == 0);
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

TEST_CASE("concurrent attempts for one host name share one lookup, and later "
          "ones use the cached addresses",
          "[prober][dns]") {
  http_test_server server;
  // Fresh connections only: a pooled one would not need the name at all.
  http_prober prober{without_keep_alive()};
  for (int round = 0; round < 2; ++round) {
    result_collector collector;
    for (int i = 0; i < 20; ++i)
      prober.submit(request_to(target_at("localhost", server.port())),
                    collector.completion());
    auto results = collector.wait_for(20);
    REQUIRE(results.size() == 20);
    CAPTURE(round, results.front().detail);
    CHECK(all_answered(results, 200));
    CHECK(prober.dns_lookups() == 1);
  }
}

TEST_CASE("a zero dns_ttl looks the name up for every attempt",
          "[prober][dns]") {
  http_test_server server;
  auto options = without_keep_alive();
  options.dns_ttl = caf::timespan{0};
  http_prober prober{options};
  for (int i = 0; i < 2; ++i)
    REQUIRE(probe(prober, target_at("localhost", server.port())).status == 200);
  CHECK(prober.dns_lookups() == 2);
}

TEST_CASE("a host name that does not resolve is remembered as such",
          "[prober][dns]") {
  auto asked = std::make_shared<std::atomic<int>>(0);
  http_prober prober{resolving_nothing(asked)};
  auto first = probe(prober, target_at("nonexistent.invalid", 80));
  auto second = probe(prober, target_at("nonexistent.invalid", 8080));
  CAPTURE(first.detail, second.detail);
  CHECK(first.failure == probe_failure::resolve);
  CHECK(second.failure == probe_failure::resolve);
  CHECK_THAT(second.detail,
             Catch::StartsWith("cannot resolve nonexistent.invalid: "));
  CHECK(prober.dns_lookups() == 1);
  CHECK(*asked == 1); // the second attempt used the remembered failure
}

TEST_CASE("a slow lookup holds up no other host name, and the attempt's "
          "deadline covers it",
          "[prober][dns]") {
  http_test_server server;
  std::promise<void> release;
  auto released = release.get_future().share();
  http_prober_options options;
  // Bounded, so that a failed check cannot hang the prober's destruction.
  options.resolve_hook = [released](const std::string& host) {
    if (host == "slow.test")
      released.wait_for(5s);
    return std::vector<std::string>{"127.0.0.1"};
  };
  http_prober prober{options};
  result_collector slow;
  for (int i = 0; i < 3; ++i)
    prober.submit(request_to(target_at("slow.test", server.port()), 500ms),
                  slow.completion());
  auto fast = probe(prober, target_at("fast.test", server.port()));
  CAPTURE(fast.detail);
  CHECK(fast.status == 200);
  CHECK(slow.wait_for(0).empty()); // still waiting for their lookup

  auto timed_out = slow.wait_for(3);
  REQUIRE(timed_out.size() == 3);
  for (auto& each : timed_out) {
    CHECK(each.failure == probe_failure::timeout);
    CHECK(each.detail == "no response within 500 ms (resolving the host)");
  }
  CHECK(prober.dns_lookups() == 2); // the three slow ones shared one
  release.set_value();
  CHECK(probe(prober, target_at("slow.test", server.port())).status == 200);
  CHECK(prober.dns_lookups() == 2);
}

TEST_CASE("destroying the prober during a lookup waits for it and calls no "
          "completion",
          "[prober][dns]") {
  http_test_server server{serving(server_behavior::blackhole())};
  std::promise<void> release;
  auto released = release.get_future().share();
  auto entered = std::make_shared<std::atomic<bool>>(false);
  http_prober_options options;
  options.resolve_hook = [released, entered](const std::string&) {
    *entered = true;
    released.wait_for(5s);
    return std::vector<std::string>{"127.0.0.1"};
  };
  auto prober = std::make_unique<http_prober>(options);
  auto called = std::make_shared<std::atomic<bool>>(false);
  prober->submit(request_to(target_at("slow.test", server.port()), 10s),
                 [called](attempt_result) { *called = true; });
  REQUIRE(eventually([&] { return entered->load(); }));
  auto destroyed = std::async(std::launch::async, [&] { prober.reset(); });
  // It cannot end before the lookup does: the lookup thread is joined.
  CHECK(destroyed.wait_for(50ms) == std::future_status::timeout);
  release.set_value();
  destroyed.get();
  CHECK_FALSE(*called);
}

TEST_CASE("running out of file descriptors is a local failure, not the "
          "endpoint's",
          "[prober][resources]") {
  http_test_server server;
  http_prober prober;
  attempt_result result;
  {
    descriptor_limit exhausted{lowest_free_descriptor()};
    result = probe(prober, target_of(server));
  }
  CHECK(result.failure == probe_failure::local);
  CHECK(result.detail == "out of file descriptors (Too many open files)");
  CHECK(server.connections_accepted() == 0);
  CHECK(probe(prober, target_of(server)).status == 200);
}

TEST_CASE("a host name looked up while out of file descriptors is a local "
          "failure, and not remembered",
          "[prober][resources][dns]") {
  http_test_server server;
  http_prober prober;
  auto target = target_at("localhost", server.port());
  attempt_result result;
  {
    descriptor_limit exhausted{lowest_free_descriptor()};
    result = probe(prober, target);
  }
  CHECK(result.failure == probe_failure::local);
  CHECK(result.detail == "out of file descriptors (Too many open files)");
  CHECK(probe(prober, target).status == 200);
  CHECK(prober.dns_lookups() == 2);
}

TEST_CASE("interim 1xx responses are read past to the final response",
          "[prober]") {
  const std::string early_hints =
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  http_test_server server;
  http_prober prober;
  SECTION("103 Early Hints, on a connection that stays reusable") {
    server.set_behavior(server_behavior::after_interim(early_hints));
    for (int i = 0; i < 2; ++i) {
      auto result = probe(prober, target_of(server));
      CAPTURE(result.detail);
      CHECK(result.failure == probe_failure::none);
      CHECK(result.status == 200);
    }
    CHECK(server.connections_accepted() == 1);
  }
  SECTION("100 Continue, then 103 Early Hints") {
    server.set_behavior(server_behavior::after_interim(
        "HTTP/1.1 100 Continue\r\n\r\n" + early_hints, 204));
    CHECK(probe(prober, target_of(server)).status == 204);
  }
  SECTION("a server that sends nothing but interim responses") {
    std::string endless;
    for (int i = 0; i < 9; ++i)
      endless += early_hints;
    server.set_behavior(server_behavior::after_interim(endless));
    auto result = probe(prober, target_of(server));
    CHECK(result.failure == probe_failure::protocol_error);
    CHECK(result.detail == "more than 8 interim (1xx) responses");
  }
  SECTION("101 Switching Protocols is final, and its connection not kept") {
    server.set_behavior(server_behavior::answer(101, ""));
    CHECK(probe(prober, target_of(server)).status == 101);
    CHECK(prober.open_connections() == 0);
  }
}

TEST_CASE("the sweep drops idle connections their server closed, and keeps "
          "the others",
          "[prober][keep-alive]") {
  // Slow answers make the attempts overlap, so each opens its own.
  http_test_server closing{serving(server_behavior::slow(50ms))};
  http_test_server keeping;
  http_prober prober; // a 60 s idle timeout: only the liveness check acts
  result_collector collector;
  for (int i = 0; i < 3; ++i)
    prober.submit(request_to(target_of(closing)), collector.completion());
  REQUIRE(collector.wait_for(3).size() == 3);
  REQUIRE(probe(prober, target_of(keeping)).status == 200);
  REQUIRE(prober.open_connections() == 4);
  REQUIRE(eventually([&] {
    closing.close_idle_connections();
    return closing.open_connections() == 0;
  }));
  CHECK(eventually([&] { return prober.open_connections() == 1; }, 3s));
  CHECK(probe(prober, target_of(keeping)).status == 200);
  CHECK(keeping.connections_accepted() == 1);
}
