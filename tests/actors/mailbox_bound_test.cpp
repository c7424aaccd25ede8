// Mailbox growth under probe-result storms: every endpoint's check ending at
// the same instant (a network blip healing, a prober backlog draining) must
// queue at most one message per endpoint at the supervisor (one outcome per
// check, however many attempts, duplicate or late answers the check saw)
// and at the registry (one transition per endpoint, its publications
// batched), storm after storm.
//
// The consumers are made to lag as far as a schedule allows: the probes and
// the prober run first, the supervisor and the registry only afterwards and
// only until half a storm still waits for each; the next storm lands on top
// of that. The registry batches as in production (a 10 ms window). The
// mailboxes are measured message by message under the test_coordinator.
#include "actor_fixture.hpp"

#include <algorithm>
#include <iterator>
#include <ostream>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t endpoint_count = 2000;
constexpr size_t half_storm = endpoint_count / 2;
constexpr uint32_t retries = 2; // a failing check makes three attempts
constexpr int storm_count = 6;

caf::scheduled_actor* as_scheduled(const caf::actor& handle) {
  return dynamic_cast<caf::scheduled_actor*>(
      caf::actor_cast<caf::abstract_actor*>(handle));
}

/// Messages waiting at the two consumers.
struct mailboxes {
  size_t supervisor = 0;
  size_t registry = 0;
};

std::ostream& operator<<(std::ostream& out, const mailboxes& x) {
  return out << "{supervisor " << x.supervisor << ", registry " << x.registry
             << "}";
}

struct storm_fixture : actor_fixture {
  supervisor_actor sup;
  caf::scheduled_actor* supervisor_box = nullptr;
  caf::scheduled_actor* registry_box = nullptr;
  caf::timespan retry_backoff{0};
  size_t answered = 0; // script->attempts before this one have answers
  mailboxes peak;      // the largest seen since the last reset

  storm_fixture() {
    // 2,000 transitions per storm are 2,000 info lines each.
    spdlog::set_level(spdlog::level::warn);
    for (size_t i = 0; i < endpoint_count; ++i)
      source->services["s-" + std::to_string(i)] =
          make_service("s", {"http://127.2." + std::to_string(i / 250) + "." +
                             std::to_string(i % 250) + ":80"});
    auto settings = test_probe_settings();
    settings.thresholds = health_thresholds{1, 1}; // every storm flips all
    settings.retries = retries;
    retry_backoff = settings.retry_backoff;
    auto options = make_probing_options(settings);
    // Batching on, as in production (the fixture turns it off).
    options.health_batch_window = 10ms;
    // No refresh listing during the storms: only their messages count.
    options.backend.refresh_interval = std::chrono::hours(1);
    sup = spawn_supervisor(std::move(options));
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
    supervisor_box = as_scheduled(caf::actor_cast<caf::actor>(sup));
    registry_box =
        as_scheduled(caf::actor_cast<caf::actor>(children(sup).first));
    REQUIRE(supervisor_box != nullptr);
    REQUIRE(registry_box != nullptr);
  }

  ~storm_fixture() { spdlog::set_level(spdlog::level::info); }

  /// The messages waiting for `actor`. Only a scheduled actor's mailbox may
  /// be looked at: size() moves the inbox into the actor's queue, and on an
  /// idle (blocked) inbox that loses the wake-up of its next message. An
  /// idle actor's mailbox is empty.
  size_t queued(caf::scheduled_actor* actor) {
    auto& jobs = sched.jobs;
    bool scheduled =
        std::find(jobs.begin(), jobs.end(),
                  static_cast<caf::resumable*>(actor)) != jobs.end();
    return scheduled ? actor->mailbox().size() : 0;
  }

  mailboxes queued_now() {
    return {queued(supervisor_box), queued(registry_box)};
  }

  void note() {
    auto now = queued_now();
    peak.supervisor = std::max(peak.supervisor, now.supervisor);
    peak.registry = std::max(peak.registry, now.registry);
  }

  bool is_consumer(caf::resumable* job) const {
    return job == static_cast<caf::resumable*>(supervisor_box) ||
           job == static_cast<caf::resumable*>(registry_box);
  }

  /// While `more()` holds, runs one message of the first job `runnable`
  /// accepts, noting the mailboxes after each; stops when none is left.
  template <class Runnable, class More>
  void run_while(Runnable runnable, More more) {
    auto& jobs = sched.jobs;
    while (more()) {
      auto job = std::find_if(jobs.begin(), jobs.end(), runnable);
      if (job == jobs.end())
        return;
      std::rotate(jobs.begin(), job, std::next(job));
      sched.run_once();
      note();
    }
  }

  /// Runs everything but the supervisor and the registry until idle: the
  /// consumers lag behind whatever the probes produce.
  void run_producers() {
    run_while([this](caf::resumable* job) { return !is_consumer(job); },
              [] { return true; });
  }

  /// Runs only `consumer` until at most `left` messages wait for it.
  void run_down_to(caf::scheduled_actor* consumer, size_t left) {
    auto* mine = static_cast<caf::resumable*>(consumer);
    run_while([mine](caf::resumable* job) { return job == mine; },
              [&] { return queued(consumer) > left; });
  }

  /// Answers every attempt not answered yet with `result`, twice (a prober
  /// may deliver twice); returns how many attempts that were.
  size_t answer_open(attempt_result result) {
    size_t open = script->attempts.size() - answered;
    for (; answered < script->attempts.size(); ++answered) {
      const auto& attempt = script->attempts[answered];
      result.attempt_id = attempt.request.attempt_id;
      caf::anon_send(attempt.reply_to, result);
      caf::anon_send(attempt.reply_to, result);
    }
    return open;
  }

  /// Answers attempts [from, to) again: answers to checks long over.
  void answer_late(attempt_result result, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      result.attempt_id = script->attempts[i].request.attempt_id;
      caf::anon_send(script->attempts[i].reply_to, result);
    }
  }

  /// Answers every open attempt with `result`, and each retry that follows
  /// `retry_backoff` later, while the consumers lag. Returns the attempts
  /// answered.
  size_t storm(attempt_result result) {
    size_t attempts = 0;
    for (;;) {
      auto open = answer_open(result);
      attempts += open;
      run_producers();
      if (open == 0)
        return attempts;
      sched.advance_time(retry_backoff);
      run_producers();
    }
  }

  /// Advances time until every endpoint's next check has sent its first
  /// attempt, the consumers still lagging.
  void next_checks() {
    auto first = script->attempts.size();
    for (int step = 0;
         step < 200 && script->attempts.size() - first < endpoint_count;
         ++step) {
      sched.advance_time(100ms);
      run_producers();
    }
    REQUIRE(script->attempts.size() - first == endpoint_count);
  }
};

} // namespace

TEST_CASE_METHOD(storm_fixture,
                 "mailboxes: overlapping storms of probe results queue at "
                 "most one message per endpoint, storm after storm",
                 "[probing][bounds]") {
  run_for(1s, 100ms); // the first checks (fast interval), consumers idle
  REQUIRE(script->attempts.size() == endpoint_count);
  // The supervisor, lagging on purpose, would retune every probe to the
  // normal interval once it has their first verdicts: done here at once.
  engine->set_all_fast(false);
  size_t previous_round = 0; // the first attempt of the previous round
  std::vector<mailboxes> waiting;
  std::vector<mailboxes> peaks;
  for (int round = 0; round < storm_count; ++round) {
    CAPTURE(round);
    // Alternately all pass and all fail: every endpoint changes state.
    bool pass = round % 2 == 0;
    auto result =
        pass ? answer_status(200) : answer_failure(probe_failure::refused);
    auto this_round = answered;
    auto before = queued_now(); // what the storms before left waiting
    peak = before;
    answer_late(result, previous_round, this_round);
    // Per endpoint: 1 (pass) or 3 (fail) attempts, each answered twice,
    // and one late answer; the bound below does not depend on any of it.
    auto attempts = storm(result);
    CHECK(attempts == endpoint_count * (pass ? 1 : 1 + retries));
    // The consumers catch up only until half a storm still waits for each.
    run_down_to(supervisor_box, half_storm);
    run_down_to(registry_box, half_storm);
    next_checks();
    previous_round = this_round;
    waiting.push_back(before);
    peaks.push_back(peak);
    INFO("waiting before " << before << ", peak " << peak);
    // One outcome per endpoint and check; one transition per endpoint plus
    // the batch window's timer.
    CHECK(peak.supervisor <= before.supervisor + endpoint_count);
    CHECK(peak.registry <= before.registry + endpoint_count + 1);
    // The storm was real: every endpoint's outcome did pile up.
    CHECK(peak.supervisor >= before.supervisor + endpoint_count);
  }
  INFO("waiting " << Catch::Detail::stringify(waiting) << ", peaks "
                  << Catch::Detail::stringify(peaks));
  for (size_t i = 1; i < waiting.size(); ++i) {
    // The storms overlapped: each landed on half of the previous one...
    CHECK(waiting[i].supervisor >= half_storm);
    CHECK(waiting[i].registry >= half_storm);
    // ...and what they leave behind does not grow: half a storm, plus one
    // publication notice (supervisor) or batch timer (registry). With the
    // bounds per storm above, no storm costs more than the one before.
    CHECK(waiting[i].supervisor <= half_storm + 1);
    CHECK(waiting[i].registry <= half_storm + 1);
  }
  // Nothing was lost on the way: every endpoint ends as the last storm said.
  run_for(100ms);
  auto snapshot = store->load();
  REQUIRE(snapshot->services.size() == endpoint_count);
  auto last = storm_count % 2 == 1 ? EndpointHealthStatus::Healthy
                                   : EndpointHealthStatus::Unhealthy;
  size_t as_last = 0;
  for (const auto& [id, service] : snapshot->services)
    for (const auto& endpoint : service.endpoints)
      as_last += endpoint.health_status == last;
  CHECK(as_last == endpoint_count);
}
