// The control-plane client's streamed responses, cancel and stop(), against
// the scripted HTTP server on loopback: pieces arrive while the response is
// still open (an etcd watch never ends), a stream or a request can be
// cancelled alone, and stop() ends everything at once even when every
// server hangs.
#include <atomic>
#include <chrono>
#include <mutex>
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

namespace {

/// What a stream handed over so far; read from the test thread.
struct stream_record {
  std::mutex mutex;
  unsigned status = 0;
  std::string data;
  std::vector<std::string> pieces;
  awaited_response end;

  net::stream_handlers handlers() {
    net::stream_handlers result;
    result.on_head = [this](const net::http_response& head) {
      std::lock_guard<std::mutex> guard{mutex};
      status = head.status;
    };
    result.on_data = [this](std::string_view piece) {
      std::lock_guard<std::mutex> guard{mutex};
      data.append(piece.data(), piece.size());
      pieces.emplace_back(piece);
    };
    result.on_end = end.handler();
    return result;
  }

  std::string received() {
    std::lock_guard<std::mutex> guard{mutex};
    return data;
  }
};

} // namespace

TEST_CASE("control client: a stream hands pieces over before the response "
          "ends, and cancel ends it",
          "[control_client]") {
  http_test_server server{
      {server_behavior::chunked({"first;", "second;"}, true, 20ms)}};
  net::control_client client;
  stream_record record;
  auto id =
      client.stream(request_to(server, "/v3/watch", "POST"), record.handlers());
  // The server never ends this response: whatever arrived came before
  // its end.
  REQUIRE(eventually([&] { return record.received() == "first;second;"; }));
  CHECK(record.status == 200);
  CHECK_FALSE(record.end.arrives(0ms));
  client.cancel(id);
  auto end = record.end.get();
  CHECK(end.failure == request_failure::cancelled);
  CHECK(eventually([&] { return client.open_connections() == 0; }));
}

TEST_CASE("control client: a finished stream ends well and its connection "
          "is reused",
          "[control_client]") {
  http_test_server server{{server_behavior::chunked({"a", "bc", "def"})}};
  net::control_client client;
  stream_record record;
  client.stream(request_to(server), record.handlers());
  auto end = record.end.get();
  CHECK(end.ok());
  CHECK(end.status == 200);
  CHECK(end.body.empty());
  CHECK(record.received() == "abcdef");
  // The same chunked response, buffered, on the same connection.
  auto whole = fetch(client, request_to(server));
  CHECK(whole.body == "abcdef");
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("control client: a stream's deadline ends with its head",
          "[control_client]") {
  http_test_server server{
      {server_behavior::chunked({"x", "y", "z"}, true, 100ms)}};
  net::control_client client;
  stream_record record;
  auto request = request_to(server);
  request.timeout = 50ms;
  auto id = client.stream(request, record.handlers());
  // Pieces keep coming long after the 50 ms deadline.
  REQUIRE(eventually([&] { return record.received() == "xyz"; }));
  CHECK_FALSE(record.end.arrives(0ms));
  client.cancel(id);
  CHECK(record.end.get().failure == request_failure::cancelled);
}

TEST_CASE("control client: cancel ends one request, the others go on",
          "[control_client]") {
  http_test_server server{{server_behavior::blackhole()}};
  net::control_client client;
  awaited_response cancelled;
  awaited_response other;
  auto id = client.request(request_to(server), cancelled.handler());
  client.request(request_to(server), other.handler());
  REQUIRE(eventually([&] { return server.requests_received() == 2; }));
  client.cancel(id);
  CHECK(cancelled.get().failure == request_failure::cancelled);
  CHECK_FALSE(other.arrives(50ms));
  server.set_behavior(server_behavior::answer(200));
  auto later = fetch(client, request_to(server));
  CHECK(later.ok());
  client.stop();
  CHECK(other.get().failure == request_failure::cancelled);
}

TEST_CASE("control client: stop() ends hanging requests within 200 ms",
          "[control_client]") {
  http_test_server server{{server_behavior::blackhole()}};
  net::control_client_options options;
  options.max_connections_per_host = 4;
  net::control_client client{options};
  std::vector<awaited_response> responses(10); // 4 sent, 6 queued
  for (auto& response : responses) {
    auto request = request_to(server);
    request.timeout = 60s;
    client.request(request, response.handler());
  }
  stream_record record;
  http_test_server stream_server{
      {server_behavior::chunked({"watching"}, true)}};
  client.stream(request_to(stream_server), record.handlers());
  REQUIRE(eventually([&] {
    return server.requests_received() == 4 && record.received() == "watching";
  }));

  auto started = std::chrono::steady_clock::now();
  client.stop();
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < 200ms);
  for (auto& response : responses) {
    REQUIRE(response.arrives(0ms));
    CHECK(response.get().failure == request_failure::cancelled);
  }
  REQUIRE(record.end.arrives(0ms));
  CHECK(record.end.get().failure == request_failure::cancelled);
  CHECK(client.open_connections() == 0);

  // After stop(), a request ends at once, on this thread.
  awaited_response late;
  client.request(request_to(server), late.handler());
  REQUIRE(late.arrives(0ms));
  CHECK(late.get().failure == request_failure::cancelled);
}
