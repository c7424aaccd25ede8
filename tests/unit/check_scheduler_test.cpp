// The check scheduler on its own, with a hand-driven clock: what happens
// when something it calls out to throws.
#include <chrono>
#include <memory>
#include <stdexcept>
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

} // namespace

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
