// The control-plane client (net/) against the scripted HTTP server on
// loopback: bodies and headers both ways, keep-alive reuse, the per-host
// connection bound with its queue, and each way a request fails.
#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "control_client_support.hpp"
#include "net/control_client.hpp"
#include "test_support.hpp"
#include "tests/support/http_test_server.hpp"

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;
using net::request_failure;

TEST_CASE("control client: GET and PUT carry bodies and headers both ways",
          "[control_client]") {
  http_test_server_options options;
  options.behavior = server_behavior::echo();
  options.behavior.headers = "X-Consul-Index: 42\r\n";
  http_test_server server{options};
  net::control_client client;

  auto got = fetch(client, request_to(server, "/v1/kv/a?recurse"));
  CHECK(got.ok());
  CHECK(got.status == 200);
  CHECK(got.body == "GET /v1/kv/a?recurse\n");
  CHECK(got.header("x-consul-index") == std::string_view{"42"});
  CHECK(got.header("content-type") == std::string_view{"text/plain"});
  CHECK_FALSE(got.header("x-absent"));

  auto put = request_to(server, "/v3/kv/put", "PUT");
  put.body = R"({"key":"YQ==","value":"Yg=="})";
  put.headers.emplace_back("Content-Type", "application/json");
  auto answered = fetch(client, put);
  CHECK(answered.ok());
  CHECK(answered.body == "PUT /v3/kv/put\n" + put.body);
}

TEST_CASE("control client: sequential requests reuse one connection",
          "[control_client]") {
  http_test_server server;
  net::control_client client;
  for (int i = 0; i < 5; ++i) {
    auto got = fetch(client, request_to(server));
    REQUIRE(got.ok());
    CHECK(got.body == "ok");
  }
  CHECK(server.requests_received() == 5);
  CHECK(server.connections_accepted() == 1);
  CHECK(client.connections_opened() == 1);
  CHECK(client.open_connections() == 1);
}

TEST_CASE("control client: an idle connection the server closed is replaced",
          "[control_client]") {
  http_test_server server;
  net::control_client client;
  REQUIRE(fetch(client, request_to(server)).ok());
  server.close_idle_connections();
  auto got = fetch(client, request_to(server));
  CHECK(got.ok());
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("control client: a request the server took and never answered on "
          "a reused connection goes again only if it may",
          "[control_client]") {
  http_test_server server;
  net::control_client client;
  REQUIRE(fetch(client, request_to(server)).ok()); // one idle connection
  // The server reads each request, then closes without a word: it may
  // have applied it.
  server.set_behavior(server_behavior::close_without_response());
  auto sent_before = server.requests_received();
  auto request = request_to(server);
  request.method = "POST"; // e.g. an etcd lease grant

  SECTION("a POST goes once") {
    auto got = fetch(client, request);
    CHECK(got.failure == request_failure::connection_lost);
    CHECK(server.requests_received() == sent_before + 1);
  }
  SECTION("a POST that says it may goes again, on a fresh connection") {
    request.replayable = true; // e.g. an etcd range read
    auto got = fetch(client, request);
    CHECK(got.failure == request_failure::connection_lost);
    CHECK(server.requests_received() == sent_before + 2);
  }
  SECTION("a GET goes again, on a fresh connection") {
    request.method = "GET";
    auto got = fetch(client, request);
    CHECK(got.failure == request_failure::connection_lost);
    CHECK(server.requests_received() == sent_before + 2);
  }
}

TEST_CASE("control client: connections per host stay within the bound, "
          "further requests queue and complete",
          "[control_client]") {
  http_test_server server{{server_behavior::slow(50ms)}};
  net::control_client_options options;
  options.max_connections_per_host = 3;
  net::control_client client{options};
  std::vector<awaited_response> responses(20);
  for (auto& response : responses)
    client.request(request_to(server), response.handler());
  for (auto& response : responses) {
    auto got = response.get();
    CHECK(got.ok());
    CHECK(got.status == 200);
  }
  CHECK(server.requests_received() == 20);
  CHECK(server.connections_accepted() <= 3);
  CHECK(client.connections_opened() <= 3);
}

TEST_CASE("control client: the deadline ends a request to a hanging server",
          "[control_client]") {
  http_test_server server{{server_behavior::blackhole()}};
  net::control_client client;
  auto request = request_to(server);
  request.timeout = 100ms;
  auto got = fetch(client, request);
  CHECK(got.failure == request_failure::timeout);
  CHECK(got.detail.find("within 100 ms") != std::string::npos);
  // The timed-out connection is not kept.
  CHECK(eventually([&] { return client.open_connections() == 0; }));
}

TEST_CASE("control client: a queued request times out while waiting",
          "[control_client]") {
  http_test_server server{{server_behavior::blackhole()}};
  net::control_client_options options;
  options.max_connections_per_host = 1;
  net::control_client client{options};
  awaited_response hanging;
  client.request(request_to(server), hanging.handler());
  auto queued = request_to(server);
  queued.timeout = 100ms;
  auto got = fetch(client, queued);
  CHECK(got.failure == request_failure::timeout);
  CHECK(got.detail.find("waiting for a connection") != std::string::npos);
  CHECK(client.connections_opened() == 1);
}

TEST_CASE("control client: a body over the limit fails", "[control_client]") {
  http_test_server server{{server_behavior::huge_body(1024 * 1024)}};
  net::control_client client;
  auto request = request_to(server);
  request.body_limit = 64 * 1024;
  auto got = fetch(client, request);
  CHECK(got.failure == request_failure::body_too_large);
  request.body_limit = 2 * 1024 * 1024;
  auto whole = fetch(client, request);
  CHECK(whole.ok());
  CHECK(whole.body.size() == 1024 * 1024);
}

TEST_CASE("control client: each broken answer fails as what it is",
          "[control_client]") {
  http_test_server server;
  net::control_client client;
  SECTION("not HTTP") {
    server.set_behavior(server_behavior::garbage_status_line());
    auto got = fetch(client, request_to(server));
    CHECK(got.failure == request_failure::malformed_response);
  }
  SECTION("closed mid-response") {
    server.set_behavior(server_behavior::close_mid_response());
    auto got = fetch(client, request_to(server));
    CHECK(got.failure == request_failure::connection_lost);
    CHECK(got.detail.find("mid-response") != std::string::npos);
  }
  SECTION("closed without a response") {
    server.set_behavior(server_behavior::close_without_response());
    auto got = fetch(client, request_to(server));
    CHECK(got.failure == request_failure::connection_lost);
  }
  SECTION("connection refused") {
    auto request = request_to(server);
    request.port = refused_port();
    auto got = fetch(client, request);
    CHECK(got.failure == request_failure::connect_failed);
    CHECK(got.detail.find("refused") != std::string::npos);
  }
  SECTION("https, not supported yet") {
    auto request = request_to(server);
    request.tls = true;
    auto got = fetch(client, request);
    CHECK(got.failure == request_failure::invalid_request);
  }
}
