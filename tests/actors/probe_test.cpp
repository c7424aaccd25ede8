// One probe actor, its schedule in the check scheduler (on the simulated
// clock) and the scripted prober: when checks happen, how many attempts each
// makes, and what each reports. The recorder plays the supervisor: it keeps
// the endpoint's thresholds and retunes the probe's interval as they move.
#include "actor_fixture.hpp"

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

const std::string endpoint = "http://127.0.0.7:8080/api/";

struct recorded_outcome {
  probe_outcome outcome;
  caf::actor_clock::time_point at;
};

using outcome_log = std::vector<recorded_outcome>;

/// What the recorder needs to act as the supervisor.
struct recorder_context {
  outcome_log log;
  std::optional<endpoint_health_tracker> tracker;
  probe_actor subject;
};

caf::behavior outcome_recorder(caf::event_based_actor* self,
                               std::shared_ptr<recorder_context> context) {
  return {
      [self, context](probe_outcome_batch& batch) {
        for (auto& outcome : batch.outcomes) {
          if (context->tracker) {
            auto was_fast = changing_state(*context->tracker);
            context->tracker->record(outcome.passed);
            auto fast = changing_state(*context->tracker);
            if (fast != was_fast && context->subject)
              self->send(context->subject, retune_atom::value, fast);
          }
          context->log.push_back(
              recorded_outcome{std::move(outcome), self->clock().now()});
        }
      },
  };
}

struct probe_fixture : actor_fixture {
  std::shared_ptr<recorder_context> context =
      std::make_shared<recorder_context>();
  outcome_log* outcomes = &context->log;
  caf::actor listener = sys.spawn(outcome_recorder, context);
  probe_actor subject;
  caf::actor_clock::time_point spawned_at;

  probe_fixture() { start_prober(); }

  ~probe_fixture() {
    if (subject)
      caf::anon_send_exit(subject, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
    context->subject = nullptr;
    sched.run();
  }

  void spawn_probe(probe_settings settings, std::string url = endpoint) {
    context->tracker.emplace(settings.thresholds);
    probe_options options;
    options.service_id = "api-1";
    options.endpoint_url = std::move(url);
    options.settings =
        std::make_shared<const probe_settings>(std::move(settings));
    options.engine = engine;
    options.sink = make_actor_sink(listener);
    options.observer = metrics;
    options.seed = 7;
    spawned_at = now();
    subject = sys.spawn(probe, std::move(options));
    context->subject = subject;
    sched.run();
  }

  /// Fires timers (the earliest first) until the prober has seen `count`
  /// attempts in total.
  void run_until_attempts(size_t count) {
    for (int guard = 0; script->attempts.size() < count; ++guard) {
      REQUIRE(guard < 10'000);
      REQUIRE(sched.trigger_timeout());
      sched.run();
    }
  }

  caf::timespan gap(size_t first, size_t second) const {
    return script->attempts.at(second).at - script->attempts.at(first).at;
  }
};

} // namespace

TEST_CASE_METHOD(probe_fixture,
                 "probe: the first check comes within one fast interval, then "
                 "checks keep the interval within the jitter",
                 "[probe][timing]") {
  auto settings = test_probe_settings();
  settings.jitter = 0.10;
  settings.thresholds = health_thresholds{1, 1}; // Healthy after one pass
  script->responder = [](const std::string&) { return answer_status(200); };
  spawn_probe(settings);
  run_until_attempts(41);
  auto first = script->attempts.front().at - spawned_at;
  CHECK(first < 1s);
  caf::timespan shortest = 1h;
  caf::timespan longest = 0s;
  for (size_t i = 1; i < script->attempts.size(); ++i) {
    auto wait = gap(i - 1, i);
    CHECK(wait >= 9s);  // interval - 10%
    CHECK(wait <= 11s); // interval + 10%
    shortest = std::min(shortest, wait);
    longest = std::max(longest, wait);
  }
  // The jitter is really applied: both sides of the interval occur.
  CHECK(shortest < 10s);
  CHECK(longest > 10s);
  CHECK(outcomes->size() == 41);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: the check-duration histogram runs from a check's "
                 "first attempt to its outcome, retries included",
                 "[probe][metrics]") {
  script->responder = [](const std::string&) { return answer_status(503); };
  auto settings = test_probe_settings();
  settings.retries = 2;
  settings.retry_backoff = 300ms;
  spawn_probe(settings);
  run_until_attempts(3); // one check: three attempts, two backoffs
  sched.run();
  REQUIRE(outcomes->size() == 1);
  auto counts = metrics->read();
  CHECK(counts.latency_count == 1);
  // Simulated time: the attempts themselves take none, the backoffs 600 ms.
  CHECK(counts.latency_sum_seconds == Approx(0.6));
  // The probe's last result keeps the deciding attempt's latency.
  CHECK(outcomes->front().outcome.latency == 1ms);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: the fast interval applies while Unknown and while "
                 "the thresholds are undecided",
                 "[probe][timing]") {
  bool healthy = true;
  script->responder = [&](const std::string&) {
    return healthy ? answer_status(200) : answer_status(503);
  };
  auto settings = test_probe_settings(); // 10s, fast 1s, thresholds 2/3
  settings.retries = 0;
  spawn_probe(settings);
  run_until_attempts(3);
  CHECK(gap(0, 1) == 1s);  // Unknown: fast
  CHECK(gap(1, 2) == 10s); // two passes: Healthy, normal interval
  healthy = false;
  run_until_attempts(7);
  CHECK(gap(2, 3) == 10s); // first failure seen at the normal interval
  CHECK(gap(3, 4) == 1s);  // changing: fast
  CHECK(gap(4, 5) == 1s);  // third failure -> Unhealthy
  CHECK(gap(5, 6) == 10s); // decided: normal interval again
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: a check makes 1 + retries attempts with the backoff "
                 "and reports once",
                 "[probe][retries]") {
  auto settings = test_probe_settings();
  settings.retries = 3;
  settings.retry_backoff = 250ms;
  script->responder = [](const std::string&) {
    return answer_failure(probe_failure::refused);
  };
  spawn_probe(settings);
  run_until_attempts(4);
  for (size_t i = 1; i < 4; ++i)
    CHECK(gap(i - 1, i) == 250ms);
  REQUIRE(outcomes->size() == 1);
  auto& failed = outcomes->front().outcome;
  CHECK_FALSE(failed.passed);
  CHECK(failed.failure == probe_failure::refused);
  CHECK(failed.service_id == "api-1");
  CHECK(failed.endpoint_url == endpoint);

  // The next check passes on its third attempt: three attempts, one pass.
  int calls = 0;
  script->responder = [&](const std::string&) {
    return ++calls < 3 ? answer_status(500) : answer_status(204);
  };
  run_until_attempts(7);
  sched.run();
  REQUIRE(outcomes->size() == 2);
  CHECK(outcomes->back().outcome.passed);
  CHECK(outcomes->back().outcome.status_code == 204);
  CHECK(calls == 3);
  auto counters = metrics->read();
  CHECK(counters.attempts_sent == 7);
  CHECK(counters.attempts_failed.at("refused") == 4);
  CHECK(counters.attempts_failed.at("status") == 2);
  CHECK(counters.attempts_passed == 1);
  CHECK(counters.checks_failed == 1);
  CHECK(counters.checks_passed == 1);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: the request goes to the endpoint URL joined with the "
                 "path, with the timeout",
                 "[probe]") {
  spawn_probe(test_probe_settings());
  run_until_attempts(1);
  auto& request = script->attempts.front().request;
  CHECK(request.target.host == "127.0.0.7");
  CHECK(request.target.port == 8080);
  CHECK(request.target.path == "/api/health");
  CHECK(request.timeout == 2s);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: a check whose attempt the prober never answers "
                 "fails when its timeout and grace are over, and a late "
                 "answer is ignored",
                 "[probe][timeout]") {
  auto settings = test_probe_settings();
  settings.retries = 0;
  spawn_probe(settings); // no responder: nothing answers
  run_until_attempts(1);
  auto silent = script->attempts.front();
  advance(2s + 999ms);
  CHECK(outcomes->empty());
  advance(1ms); // timeout + 1 s grace
  REQUIRE(outcomes->size() == 1);
  CHECK(outcomes->front().outcome.failure == probe_failure::timeout);
  CHECK_FALSE(outcomes->front().outcome.passed);
  answer(silent, answer_status(200)); // too late
  CHECK(outcomes->size() == 1);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: 429 passes degraded, 3xx fails unless expected",
                 "[probe][status]") {
  uint16_t status = 429;
  script->responder = [&](const std::string&) { return answer_status(status); };
  auto settings = test_probe_settings();
  settings.retries = 0;
  settings.expected_statuses = {StatusRange{200, 299}, StatusRange{301, 301}};
  spawn_probe(settings);
  run_until_attempts(1);
  REQUIRE(outcomes->size() == 1);
  CHECK(outcomes->back().outcome.passed);
  CHECK(outcomes->back().outcome.degraded);
  status = 302;
  run_until_attempts(2);
  REQUIRE(outcomes->size() == 2);
  CHECK_FALSE(outcomes->back().outcome.passed);
  CHECK(outcomes->back().outcome.reason == "status 302");
  CHECK(outcomes->back().outcome.failure == probe_failure::status);
  status = 301; // listed
  run_until_attempts(3);
  REQUIRE(outcomes->size() == 3);
  CHECK(outcomes->back().outcome.passed);
  CHECK_FALSE(outcomes->back().outcome.degraded);
  CHECK(metrics->read().checks_degraded == 1);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: an endpoint URL that cannot be probed fails every "
                 "check without an attempt",
                 "[probe]") {
  spawn_probe(test_probe_settings(), "ftp://127.0.0.7/");
  advance(1s);
  REQUIRE(outcomes->size() == 1);
  CHECK(outcomes->front().outcome.failure == probe_failure::invalid_url);
  CHECK(script->attempts.empty());
  CHECK(metrics->read().attempts_failed.at("invalid_url") == 1);
}

TEST_CASE_METHOD(
    probe_fixture,
    "probe: an attempt that times out ends its check as failed, and "
    "only fast failures are retried",
    "[probe][retries][timeout]") {
  auto settings = test_probe_settings();
  settings.retries = 3;
  settings.retry_backoff = 250ms;
  settings.thresholds = health_thresholds{1, 1};
  int calls = 0;
  // A refusal (fast, retried), then a timeout: the check ends there.
  script->responder = [&](const std::string&) {
    return ++calls == 1 ? answer_failure(probe_failure::refused)
                        : answer_failure(probe_failure::timeout);
  };
  spawn_probe(settings);
  run_until_attempts(2);
  sched.run();
  REQUIRE(outcomes->size() == 1);
  auto& failed = outcomes->front().outcome;
  CHECK_FALSE(failed.passed);
  CHECK(failed.failure == probe_failure::timeout);
  // No third attempt in this check: the next one comes at the next check.
  auto ended = outcomes->front().at;
  run_until_attempts(3);
  CHECK(script->attempts.at(2).at - ended >= 1s); // fast interval, not 250 ms
  CHECK(outcomes->size() == 2);
  auto counters = metrics->read();
  CHECK(counters.attempts_failed.at("refused") == 1);
  CHECK(counters.attempts_failed.at("timeout") == 2);
  CHECK(counters.checks_failed == 2);
}

TEST_CASE_METHOD(probe_fixture,
                 "probe: an answer to an earlier attempt, arriving while a "
                 "retry is in flight, is ignored",
                 "[probe][retries]") {
  auto settings = test_probe_settings(); // 1 retry after 100 ms
  spawn_probe(settings);                 // no responder: the test answers
  run_until_attempts(1);
  auto first = script->attempts.front();
  answer(first, answer_status(500));
  run_until_attempts(2);             // the retry is in flight
  answer(first, answer_status(200)); // a duplicate of the first: stale
  CHECK(outcomes->empty());
  answer(script->attempts.at(1), answer_status(500));
  REQUIRE(outcomes->size() == 1);
  CHECK_FALSE(outcomes->front().outcome.passed);
  CHECK(outcomes->front().outcome.status_code == 500);
}
