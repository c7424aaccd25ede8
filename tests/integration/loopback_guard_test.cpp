// The test network guard (backends/loopback_guard.hpp), on in every test
// binary: the prober and the backend clients refuse, count and log any
// address off loopback and any name lookup that could reach a DNS server,
// without sending a packet. The test main fails a run that counted one;
// these tests provoke refusals on purpose and take them back.
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <httplib.h> // the clients make_http_client returns

#include "backends/http_client.hpp"
#include "backends/loopback_guard.hpp"
#include "probing/http_prober.hpp"
#include "test_support.hpp"
#include "tests/support/http_test_server.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

attempt_result probe_once(http_prober& prober, const std::string& host,
                          uint16_t port) {
  attempt_request request;
  request.attempt_id = 1;
  request.target.host = host;
  request.target.port = port;
  request.target.host_header = host + ":" + std::to_string(port);
  request.target.path = "/health";
  request.timeout = 2s;
  std::promise<attempt_result> result;
  prober.submit(
      request, [&result](attempt_result r) { result.set_value(std::move(r)); });
  auto done = result.get_future();
  REQUIRE(done.wait_for(10s) == std::future_status::ready);
  return done.get();
}

void require_refused(const attempt_result& result) {
  CHECK(result.failure == probe_failure::local);
  CHECK(result.detail.find(loopback_guard::refusal_marker) !=
        std::string::npos);
}

} // namespace

TEST_CASE("the loopback guard is on in every test binary") {
  REQUIRE(loopback_guard::enabled());
  CHECK(loopback_guard::allows_address("127.0.0.1"));
  CHECK(loopback_guard::allows_address("127.5.0.1"));
  CHECK(loopback_guard::allows_address("::1"));
  CHECK(loopback_guard::allows_address("::ffff:127.0.0.1"));
  CHECK_FALSE(loopback_guard::allows_address("10.5.0.1"));
  CHECK_FALSE(loopback_guard::allows_address("192.168.1.1"));
  CHECK_FALSE(loopback_guard::allows_address("::ffff:10.0.0.1"));
  CHECK_FALSE(loopback_guard::allows_address("2001:db8::1"));
  CHECK_FALSE(loopback_guard::allows_address("example.com"));
  CHECK(loopback_guard::allows_lookup("localhost"));
  CHECK(loopback_guard::allows_lookup("127.0.0.1"));
  CHECK_FALSE(loopback_guard::allows_lookup("example.com"));
  CHECK(loopback_guard::take_refusals() == 0);
}

TEST_CASE("the guard refuses a probe of an address off loopback") {
  http_prober prober;
  require_refused(probe_once(prober, "192.0.2.1", 80)); // TEST-NET-1
  require_refused(probe_once(prober, "2001:db8::1", 80));
  CHECK(prober.open_connections() == 0);
  CHECK(loopback_guard::take_refusals() == 2);
}

TEST_CASE("the guard refuses a name lookup through the system resolver") {
  http_prober prober;
  require_refused(probe_once(prober, "orasi-test.invalid", 80));
  CHECK(prober.dns_lookups() == 0); // refused before any lookup
  CHECK(loopback_guard::take_refusals() == 1);
}

TEST_CASE("the guard refuses a name that resolves off loopback") {
  http_prober_options options;
  options.resolve_hook = [](const std::string& host) {
    return host == "far.test" ? std::vector<std::string>{"198.51.100.9"}
                              : std::vector<std::string>{"127.0.0.1"};
  };
  http_prober prober{options};
  require_refused(probe_once(prober, "far.test", 80));
  CHECK(loopback_guard::take_refusals() == 1);
}

TEST_CASE("the guard lets loopback probes through") {
  test::http_test_server server;
  http_prober_options options;
  options.resolve_hook = [](const std::string&) {
    return std::vector<std::string>{"127.0.0.1"};
  };
  http_prober prober{options};
  CHECK(probe_once(prober, server.host(), server.port()).status == 200);
  CHECK(probe_once(prober, "near.test", server.port()).status == 200);
  CHECK(loopback_guard::refusals() == 0);
}

TEST_CASE("the guard refuses a backend client off loopback") {
  backends::http_client_settings settings;
  CHECK_THROWS_AS(backends::make_http_client("http://192.0.2.1:2379", settings),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      backends::make_http_client("https://etcd.example.com:2379", settings),
      std::invalid_argument);
  CHECK(backends::make_http_client("http://127.0.0.1:2379", settings));
  CHECK(backends::make_http_client("http://[::1]:2379", settings));
  CHECK(backends::make_http_client("http://localhost:2379", settings));
  CHECK(loopback_guard::take_refusals() == 2);
}

TEST_CASE("the guard refuses a backend URL that httplib would look up whole") {
  // httplib takes only digits and colons between brackets; anything else
  // it resolves as a name, which the guard cannot allow.
  backends::http_client_settings settings;
  CHECK_THROWS_AS(
      backends::make_http_client("http://[::ffff:127.0.0.1]:2379", settings),
      std::invalid_argument);
  CHECK(loopback_guard::take_refusals() == 1);
}

TEST_CASE("a refusal by a launcher under test counts in the test, even with "
          "its logging off") {
  test::temp_config_file file{
      R"({"service_discovery":{"backend":"static","health_check":{)"
      R"("interval":"100ms","fast_interval":"100ms","timeout":"100ms",)"
      R"("retries":0},"services":{"far-1":{"name":"far","endpoints":[)"
      R"({"url":"http://192.0.2.1:80"}]}}},)"
      R"("admin":{"listen":"127.0.0.1:0"},"logging":{"level":"off"}})"};
  {
    test::child_process launcher{
        {ORASI_LAUNCHER_PATH, "--config", file.path()}};
    REQUIRE(launcher.wait_for_output(loopback_guard::refusal_marker));
  } // its output is read for refusals as it goes
  CHECK(loopback_guard::take_refusals() == 1);
}
