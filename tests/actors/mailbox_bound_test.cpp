// Mailbox growth under a probe-result storm: every endpoint's check ending at
// the same instant (a network blip healing, a prober backlog draining) must
// queue at most one message per endpoint at the supervisor and at the
// registry, however often it happens: each probe reports once per check and
// runs one check at a time, and the registry batches its publications. The
// maxima are measured message by message under the test_coordinator.
#include "actor_fixture.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

using namespace orasi;
using namespace orasi::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t endpoint_count = 2000;

caf::scheduled_actor* as_scheduled(const caf::actor& handle) {
  return dynamic_cast<caf::scheduled_actor*>(
      caf::actor_cast<caf::abstract_actor*>(handle));
}

struct storm_fixture : actor_fixture {
  supervisor_actor sup;
  caf::scheduled_actor* supervisor_box = nullptr;
  caf::scheduled_actor* registry_box = nullptr;

  storm_fixture() {
    // 2,000 transitions per storm are 2,000 info lines each.
    spdlog::set_level(spdlog::level::warn);
    for (size_t i = 0; i < endpoint_count; ++i)
      source->services["s-" + std::to_string(i)] =
          make_service("s", {"http://127.2." + std::to_string(i / 250) + "." +
                             std::to_string(i % 250) + ":80"});
    auto settings = test_probe_settings();
    settings.thresholds = health_thresholds{1, 1}; // every storm flips all
    settings.retries = 0;
    sup = spawn_supervisor(make_probing_options(settings));
    REQUIRE(ask<uint64_t>(sup, start_atom::value));
    supervisor_box = as_scheduled(caf::actor_cast<caf::actor>(sup));
    registry_box =
        as_scheduled(caf::actor_cast<caf::actor>(children(sup).first));
    REQUIRE(supervisor_box != nullptr);
    REQUIRE(registry_box != nullptr);
  }

  ~storm_fixture() { spdlog::set_level(spdlog::level::info); }

  struct maxima {
    size_t supervisor = 0;
    size_t registry = 0;
  };

  /// Answers every attempt still open at once, then runs one message at a
  /// time, noting the largest mailboxes.
  maxima storm(attempt_result result, size_t from_attempt) {
    for (size_t i = from_attempt; i < script->attempts.size(); ++i) {
      result.attempt_id = script->attempts[i].request.attempt_id;
      caf::anon_send(script->attempts[i].reply_to, result);
    }
    maxima seen;
    while (sched.try_run_once()) {
      seen.supervisor = std::max(seen.supervisor, queued(supervisor_box));
      seen.registry = std::max(seen.registry, queued(registry_box));
    }
    return seen;
  }

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

  /// Lets the next round of checks start; returns the first new attempt.
  size_t next_round(caf::timespan wait) {
    auto first = script->attempts.size();
    run_for(wait, 100ms);
    REQUIRE(script->attempts.size() - first == endpoint_count);
    return first;
  }
};

} // namespace

TEST_CASE_METHOD(storm_fixture,
                 "mailboxes: a storm of probe results queues at most one "
                 "message per endpoint, storm after storm",
                 "[probing][bounds]") {
  auto first = next_round(1s); // the first checks (fast interval)
  std::vector<size_t> supervisor_maxima;
  std::vector<size_t> registry_maxima;
  for (int round = 0; round < 6; ++round) {
    // Alternately all pass and all fail: every endpoint changes state.
    auto result = round % 2 == 0 ? answer_status(200)
                                 : answer_failure(probe_failure::refused);
    auto seen = storm(result, first);
    supervisor_maxima.push_back(seen.supervisor);
    registry_maxima.push_back(seen.registry);
    first = next_round(10s);
  }
  INFO("supervisor maxima " << Catch::Detail::stringify(supervisor_maxima)
                            << ", registry maxima "
                            << Catch::Detail::stringify(registry_maxima));
  for (auto peak : supervisor_maxima)
    CHECK(peak <= endpoint_count);
  for (auto peak : registry_maxima)
    CHECK(peak <= endpoint_count + 1); // + the batch window's timer
  // The storm is real: outcomes did pile up, by about one per endpoint.
  CHECK(supervisor_maxima.front() >= endpoint_count / 2);
  // And did not grow from storm to storm.
  CHECK(supervisor_maxima.back() <= supervisor_maxima.front());
  auto snapshot = store->load();
  CHECK(snapshot->services.size() == endpoint_count);
}
