// The check scheduler on its own, with a hand-driven clock: what happens
// when something it calls out to throws, the order of checks due together,
// removal, and what schedules sharing settings, sinks and observers get.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "probing/check_scheduler.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

/// Throws from the first `throws` check outcomes, counts the rest.
struct throwing_observer : check_observer {
  int throws = 1;
  int checks = 0;
  void on_attempt_sent() override {}
  void on_attempt_done(probe_failure) override {}
  void on_check_done(const probe_outcome&, std::chrono::microseconds) override {
    if (throws > 0) {
      --throws;
      throw std::runtime_error("observer failed");
    }
    ++checks;
  }
  void on_removed(const std::string&, const std::string&) override {}
};

/// Keeps every outcome delivered to it.
struct collecting_sink : outcome_sink {
  std::vector<probe_outcome> outcomes;
  void deliver(std::vector<probe_outcome> batch) override {
    for (auto& x : batch)
      outcomes.push_back(std::move(x));
  }
};

/// Counts removals.
struct counting_observer : check_observer {
  std::vector<std::string> removed;
  void on_attempt_sent() override {}
  void on_attempt_done(probe_failure) override {}
  void on_check_done(const probe_outcome&, std::chrono::microseconds) override {
  }
  void on_removed(const std::string&, const std::string& url) override {
    removed.push_back(url);
  }
};

/// Settings whose first check is due at once (its window is the fast
/// interval, one nanosecond) and, for a schedule that is not fast, whose
/// next one follows exactly `interval` later.
std::shared_ptr<probe_settings> immediate_settings() {
  auto settings = std::make_shared<probe_settings>();
  settings->interval = 1s;
  settings->fast_interval = std::chrono::nanoseconds{1};
  settings->jitter = 0;
  return settings;
}

check_spec spec_for(std::string url, std::shared_ptr<probe_settings> settings,
                    std::shared_ptr<outcome_sink> sink,
                    std::shared_ptr<check_observer> observer = nullptr) {
  check_spec spec;
  spec.service_id = "api";
  spec.endpoint_url = std::move(url);
  spec.settings = std::move(settings);
  spec.sink = std::move(sink);
  spec.observer = std::move(observer);
  spec.fast = false;
  return spec;
}

} // namespace

TEST_CASE("check scheduler: checks due together start in handle order",
          "[probe][scheduler]") {
  std::vector<std::string> hosts;
  check_scheduler scheduler{
      [&](attempt_request request) { hosts.push_back(request.target.host); }};
  auto settings = immediate_settings();
  auto sink = std::make_shared<collecting_sink>();
  check_scheduler::time_point now{};
  for (int handle : {3, 1, 4, 2})
    scheduler.add(handle,
                  spec_for("http://h" + std::to_string(handle), settings, sink),
                  now);
  REQUIRE(scheduler.next_due() == now);
  scheduler.run_due(now);
  CHECK(hosts == std::vector<std::string>{"h1", "h2", "h3", "h4"});
  CHECK(scheduler.attempts_in_flight() == 4);
}

TEST_CASE("check scheduler: a removed schedule leaves no timer and no attempt",
          "[probe][scheduler]") {
  std::vector<attempt_request> sent;
  check_scheduler scheduler{
      [&](attempt_request request) { sent.push_back(request); }};
  auto settings = immediate_settings();
  auto sink = std::make_shared<collecting_sink>();
  auto observer = std::make_shared<counting_observer>();
  check_scheduler::time_point now{};
  for (int handle = 1; handle <= 5; ++handle)
    scheduler.add(
        handle,
        spec_for("http://h" + std::to_string(handle), settings, sink, observer),
        now);
  scheduler.run_due(now);
  REQUIRE(sent.size() == 5);
  scheduler.remove(3); // its attempt is out
  scheduler.remove(3); // unknown by now: nothing happens
  CHECK(observer->removed == std::vector<std::string>{"http://h3"});
  CHECK(scheduler.schedules() == 4);
  CHECK(scheduler.attempts_in_flight() == 4);
  // Its late answer is dropped; the others' are judged.
  for (auto& request : sent) {
    attempt_result result;
    result.attempt_id = request.attempt_id;
    result.status = 200;
    scheduler.on_attempt_result(result, now);
  }
  scheduler.flush();
  REQUIRE(sink->outcomes.size() == 4);
  for (auto& outcome : sink->outcomes) {
    CHECK(outcome.passed);
    CHECK(outcome.endpoint_url != "http://h3");
  }
  // The next checks: the four left, one interval on.
  CHECK(scheduler.next_due() == now + 1s);
  sent.clear();
  scheduler.run_due(now + 1s);
  CHECK(sent.size() == 4);
  for (int handle : {1, 2, 4, 5})
    scheduler.remove(handle);
  CHECK(scheduler.schedules() == 0);
  CHECK(scheduler.attempts_in_flight() == 0);
  CHECK_FALSE(scheduler.next_due());
}

TEST_CASE("check scheduler: outcomes name their endpoint and reach its sink",
          "[probe][scheduler]") {
  check_scheduler scheduler{[](attempt_request) {}};
  auto settings = immediate_settings();
  auto first = std::make_shared<collecting_sink>();
  auto second = std::make_shared<collecting_sink>();
  check_scheduler::time_point now{};
  auto spec = spec_for("ftp://h1/", settings, first);
  spec.service_id = "one";
  spec.probe_id = 7;
  scheduler.add(1, spec, now);
  spec = spec_for("http://h2:99999/", settings, second);
  spec.service_id = "two";
  spec.probe_id = 8;
  scheduler.add(2, spec, now);
  scheduler.remove(1);
  scheduler.add(1, spec_for("ftp://h3/", settings, first), now);
  scheduler.run_due(now);
  scheduler.flush();
  REQUIRE(first->outcomes.size() == 1);
  REQUIRE(second->outcomes.size() == 1);
  auto& one = first->outcomes[0];
  CHECK(one.service_id == "api");
  CHECK(one.endpoint_url == "ftp://h3/");
  CHECK(one.probe_id == 0);
  CHECK(one.failure == probe_failure::invalid_url);
  CHECK(one.reason == "invalid URL: unsupported scheme 'ftp'");
  auto& two = second->outcomes[0];
  CHECK(two.service_id == "two");
  CHECK(two.endpoint_url == "http://h2:99999/");
  CHECK(two.probe_id == 8);
  CHECK(two.failure == probe_failure::invalid_url);
  CHECK(two.reason == "invalid URL: invalid port '99999'");
}

TEST_CASE("check scheduler: a schedule goes on after a callout threw",
          "[probe][scheduler]") {
  std::vector<attempt_request> sent;
  check_scheduler scheduler{
      [&](attempt_request request) { sent.push_back(request); }};
  auto observer = std::make_shared<throwing_observer>();
  auto settings = std::make_shared<probe_settings>();
  settings->interval = 1s;
  settings->fast_interval = 1s;
  settings->jitter = 0;
  check_spec spec;
  spec.service_id = "api-1";
  spec.endpoint_url = "ftp://127.0.0.7/"; // cannot be probed: fails at once
  spec.settings = settings;
  spec.observer = observer;
  check_scheduler::time_point now{};
  scheduler.add(1, spec, now);
  now += 1s;
  CHECK_THROWS(scheduler.run_due(now)); // the first check's observer throws
  for (int i = 0; i < 3; ++i) {
    now += 1s;
    scheduler.run_due(now);
  }
  CHECK(observer->checks >= 2); // checks went on
  CHECK(sent.empty());
}
