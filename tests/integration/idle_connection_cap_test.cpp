// The cap on idle keep-alive connections (max_idle_connections) against
// real loopback servers: ten endpoints, each on a server of its own (so
// that each has its own pool key and keeps its own connection), checked a
// few times; then, with nothing in flight, the engine holds no more idle
// connections than the cap, and every check still passed.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "probing/sharded_engine.hpp"
#include "test_support.hpp"
#include "tests/support/http_test_server.hpp"
#include "tests/support/outcome_tally.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

struct cap_run {
  size_t engine_open = 0;  // the engine's sockets, nothing in flight
  size_t server_open = 0;  // the servers' side of them, once settled
  size_t cap_closures = 0; // connections closed on return
  size_t failed = 0;       // checks that did not pass
};

/// Ten endpoints on ten servers, each checked `checks` times (every 30 ms),
/// then removed; the engine's connections once nothing is in flight.
cap_run run_checks(size_t shards, std::optional<size_t> cap, size_t checks) {
  constexpr size_t endpoints = 10;
  std::vector<std::unique_ptr<test::http_test_server>> servers;
  std::vector<std::string> urls;
  for (size_t i = 0; i < endpoints; ++i) {
    servers.push_back(std::make_unique<test::http_test_server>());
    urls.push_back("http://127.0.0.1:" + std::to_string(servers[i]->port()));
  }
  http_prober_options options;
  options.max_idle_connections = cap;
  sharded_engine engine{shards, options};
  auto tally = std::make_shared<test::outcome_tally>();
  auto settings = std::make_shared<probe_settings>();
  settings->fast_interval = 30ms;
  settings->interval = 30ms;
  settings->timeout = 2s;
  settings->retries = 0;
  std::vector<uint64_t> handles;
  for (auto& url : urls) {
    check_spec spec;
    spec.service_id = "svc";
    spec.endpoint_url = url;
    spec.settings = settings;
    spec.seed = handles.size() + 1;
    spec.sink = tally;
    handles.push_back(engine.add_schedule(spec));
  }
  REQUIRE(test::eventually([&] { return tally->each_passed(urls, checks); }));
  for (auto handle : handles)
    engine.remove_schedule(handle);
  // Removed, and the attempts that were out have returned or closed their
  // connections: what is open now is the idle pool.
  REQUIRE(test::eventually(
      [&] { return engine.schedules() == 0 && engine.in_flight() == 0; }));
  cap_run run;
  run.engine_open = engine.open_connections();
  run.cap_closures = engine.idle_cap_closures();
  run.failed = tally->failed();
  auto server_open = [&] {
    size_t sum = 0;
    for (auto& server : servers)
      sum += server->open_connections();
    return sum;
  };
  // The servers see a close a moment after the engine made it.
  test::eventually([&] { return server_open() == run.engine_open; }, 2s);
  run.server_open = server_open();
  engine.shutdown();
  return run;
}

} // namespace

TEST_CASE("idle connection cap: without it each endpoint keeps its own",
          "[prober][idle_cap]") {
  auto run = run_checks(1, std::nullopt, 3);
  CHECK(run.failed == 0);
  CHECK(run.engine_open == 10);
  CHECK(run.server_open == 10);
  CHECK(run.cap_closures == 0);
}

TEST_CASE("idle connection cap: the engine keeps at most the cap, and "
          "checks still pass",
          "[prober][idle_cap]") {
  auto shards = GENERATE(size_t{1}, size_t{2});
  CAPTURE(shards);
  auto run = run_checks(shards, 4, 3);
  CHECK(run.failed == 0);
  CHECK(run.engine_open <= 4);
  CHECK(run.server_open <= 4);
  CHECK(run.cap_closures > 0);
}

TEST_CASE("idle connection cap: a cap of zero keeps none",
          "[prober][idle_cap]") {
  auto run = run_checks(2, 0, 2);
  CHECK(run.failed == 0);
  CHECK(run.engine_open == 0);
  CHECK(run.cap_closures >= 10);
}
