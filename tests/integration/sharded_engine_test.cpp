// The probe engine over several loops (sharded_engine) against a loopback
// server: every endpoint's checks arrive, schedules spread over the shards,
// set_fast and remove_schedule reach the shard that holds the schedule, and
// shutdown is idempotent.
#include <memory>
#include <stdexcept>
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

/// Checks every 50 ms while fast, every 10 minutes otherwise.
std::shared_ptr<const probe_settings> fast_only_settings() {
  auto settings = std::make_shared<probe_settings>();
  settings->fast_interval = 50ms;
  settings->interval = 10min;
  settings->jitter = 0;
  settings->timeout = 2s;
  settings->retries = 0;
  return settings;
}

check_spec spec_for(const std::string& url,
                    const std::shared_ptr<test::outcome_tally>& sink) {
  check_spec spec;
  spec.service_id = "svc";
  spec.endpoint_url = url;
  spec.settings = fast_only_settings();
  spec.seed = std::hash<std::string>{}(url);
  spec.sink = sink;
  return spec;
}

/// `count` endpoints of one server, told apart by their path.
std::vector<std::string> endpoints_of(const test::http_test_server& server,
                                      size_t count) {
  std::vector<std::string> urls;
  auto base = "http://127.0.0.1:" + std::to_string(server.port()) + "/e";
  for (size_t i = 0; i < count; ++i)
    urls.push_back(base + std::to_string(i));
  return urls;
}

/// Whether each of `urls` has at least `counts[i] + more` checks.
bool each_checked(const test::outcome_tally& counter,
                  const std::vector<std::string>& urls,
                  const std::vector<size_t>& counts, size_t more) {
  for (size_t i = 0; i < urls.size(); ++i)
    if (counter.checks(urls[i]) < counts[i] + more)
      return false;
  return true;
}

std::vector<size_t> checks_of(const test::outcome_tally& counter,
                              const std::vector<std::string>& urls) {
  std::vector<size_t> counts;
  for (auto& url : urls)
    counts.push_back(counter.checks(url));
  return counts;
}

/// Schedules every one of `urls` and waits until each has been checked
/// `checks` times; returns the handles.
std::vector<uint64_t>
schedule_all(sharded_engine& engine, const std::vector<std::string>& urls,
             const std::shared_ptr<test::outcome_tally>& sink, size_t checks) {
  std::vector<uint64_t> handles;
  for (auto& url : urls)
    handles.push_back(engine.add_schedule(spec_for(url, sink)));
  std::vector<size_t> none(urls.size(), 0);
  REQUIRE(test::eventually(
      [&] { return each_checked(*sink, urls, none, checks); }));
  return handles;
}

} // namespace

TEST_CASE("sharded engine: every endpoint is checked, on every shard",
          "[prober][shards]") {
  auto shards = GENERATE(size_t{1}, size_t{2}, size_t{3});
  CAPTURE(shards);
  test::http_test_server server;
  sharded_engine engine{shards};
  auto sink = std::make_shared<test::outcome_tally>();
  auto urls = endpoints_of(server, 30);
  std::vector<size_t> per_shard(shards, 0);
  for (auto& url : urls) {
    engine.add_schedule(spec_for(url, sink));
    ++per_shard[engine.shard_of(url)];
  }
  std::vector<size_t> none(urls.size(), 0);
  REQUIRE(test::eventually([&] { return each_checked(*sink, urls, none, 3); }));
  CHECK(sink->failed() == 0);
  CHECK(engine.schedules() == urls.size());
  for (size_t i = 0; i < shards; ++i) {
    CAPTURE(i);
    // Spread: the hash put endpoints on every shard, and each shard's own
    // loop checked them over keep-alive connections of its own.
    CHECK(per_shard[i] > 0);
    CHECK(engine.shard(i).schedules() == per_shard[i]);
    CHECK(engine.shard(i).open_connections() > 0);
  }
  engine.shutdown();
}

TEST_CASE("sharded engine: set_fast and remove_schedule reach the schedule's "
          "shard",
          "[prober][shards]") {
  test::http_test_server server;
  sharded_engine engine{2};
  auto sink = std::make_shared<test::outcome_tally>();
  auto urls = endpoints_of(server, 30);
  auto handles = schedule_all(engine, urls, sink, 2);

  // A third goes to the normal interval (10 minutes), a third is removed,
  // a third goes on as before.
  std::vector<std::string> slowed, removed, kept;
  for (size_t i = 0; i < urls.size(); ++i) {
    if (i % 3 == 0) {
      engine.set_fast(handles[i], false);
      slowed.push_back(urls[i]);
    } else if (i % 3 == 1) {
      engine.remove_schedule(handles[i]);
      removed.push_back(urls[i]);
    } else {
      kept.push_back(urls[i]);
    }
  }
  REQUIRE(test::eventually(
      [&] { return engine.schedules() == urls.size() - removed.size(); }));
  auto slowed_before = checks_of(*sink, slowed);
  auto removed_before = checks_of(*sink, removed);
  auto kept_before = checks_of(*sink, kept);
  // Four more checks of each kept endpoint take 200 ms or more: long
  // enough for any schedule that was not slowed or removed to show.
  REQUIRE(test::eventually(
      [&] { return each_checked(*sink, kept, kept_before, 4); }));
  // At most the check that was under way (or already in a batch).
  for (size_t i = 0; i < slowed.size(); ++i) {
    CAPTURE(slowed[i]);
    CHECK(sink->checks(slowed[i]) <= slowed_before[i] + 1);
  }
  for (size_t i = 0; i < removed.size(); ++i) {
    CAPTURE(removed[i]);
    CHECK(sink->checks(removed[i]) <= removed_before[i] + 1);
  }
  CHECK(sink->failed() == 0);
}

TEST_CASE("sharded engine: shutdown is idempotent and later calls are no-ops",
          "[prober][shards]") {
  test::http_test_server server;
  sharded_engine engine{2};
  auto sink = std::make_shared<test::outcome_tally>();
  auto urls = endpoints_of(server, 4);
  auto handles = schedule_all(engine, urls, sink, 1);
  engine.shutdown();
  CHECK(engine.in_flight() == 0); // attempts that were out never finish
  auto checks = checks_of(*sink, urls);
  engine.shutdown();
  for (auto handle : handles) {
    engine.set_fast(handle, false);
    engine.remove_schedule(handle);
  }
  engine.add_schedule(spec_for(urls.front(), sink));
  // The loops are gone: neither the removes nor the add ran, and no check
  // ended since.
  CHECK(engine.schedules() == urls.size());
  CHECK(checks_of(*sink, urls) == checks);
} // the destructor shuts down a third time

TEST_CASE("sharded engine: the shard count is 1 to 64", "[prober][shards]") {
  CHECK_THROWS_AS(sharded_engine{0}, std::invalid_argument);
  CHECK_THROWS_AS(sharded_engine{max_engine_shards + 1}, std::invalid_argument);
}
