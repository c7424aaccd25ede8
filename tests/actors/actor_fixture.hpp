// Shared fixture for actor tests: an actor system on CAF's test_coordinator
// (deterministic scheduling, simulated time) and an in-memory source whose
// behaviour each test controls.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include <functional>

#include "actors/supervisor.hpp"
#include "messages/errors.hpp"
#include "messages/type_registration.hpp"
#include "sim_engine.hpp"

namespace orasi::test {

/// A discovery_source held in memory. Tests change `services` and set
/// `fail_next_list` / `poll_update` to script the backend.
class fake_source : public backends::discovery_source {
public:
  ServiceMap services;
  uint64_t revision = 1;
  caf::error fail_next_list;                          // returned once by list()
  std::optional<backends::source_update> poll_update; // returned once by poll()
  caf::error poll_error;                              // returned once by poll()
  int list_calls = 0;
  std::function<void()> notify; // the adapter's change listener
  int suspends = 0;

  std::string name() const override { return "fake"; }

  caf::expected<backends::source_listing> list() override {
    ++list_calls;
    if (fail_next_list)
      return std::exchange(fail_next_list, caf::error{});
    return backends::source_listing{services, revision, {}};
  }

  caf::expected<std::optional<backends::source_update>> poll() override {
    if (poll_error)
      return std::exchange(poll_error, caf::error{});
    return std::exchange(poll_update, std::nullopt);
  }

  void set_change_listener(std::function<void()> listener) override {
    notify = std::move(listener);
  }

  void suspend() override { ++suspends; }

  caf::error put(const std::string& id, const ServiceInfo& info) override {
    services[id] = info;
    ++revision;
    return caf::none;
  }

  caf::error remove(const std::string& id) override {
    if (services.erase(id) == 0)
      return make_error(errc::not_found, "service \"" + id + "\" not found");
    ++revision;
    return caf::none;
  }
};

/// One attempt the scripted prober received.
struct scripted_attempt {
  attempt_request request;
  caf::actor reply_to;
  caf::actor_clock::time_point at; // simulated time of arrival
};

/// The prober's script: every attempt is recorded; if `responder` is set,
/// it answers at once, otherwise the test answers with answer().
struct prober_script {
  std::vector<scripted_attempt> attempts;
  /// The result for an attempt against `url` (the probe_target's URL).
  std::function<attempt_result(const std::string& url)> responder;

  /// Attempts whose target URL contains `text`.
  size_t count(const std::string& text) const;
};

/// An attempt_result with `status` (failure none) or with `failure`.
attempt_result answer_status(uint16_t status);
attempt_result answer_failure(probe_failure failure);

/// A service with the given endpoint urls, all with `status`.
ServiceInfo
make_service(const std::string& name, std::vector<std::string> urls,
             EndpointHealthStatus status = EndpointHealthStatus::Unknown);

class actor_fixture {
public:
  actor_fixture();
  ~actor_fixture();

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::vector<supervisor_actor> supervisors;
  /// What each supervisor from spawn_supervisor() runs, by its address.
  std::map<caf::actor_addr, std::shared_ptr<supervisor_children>> observed;
  std::shared_ptr<snapshot_store> store = std::make_shared<snapshot_store>();
  std::shared_ptr<fake_source> source = std::make_shared<fake_source>();

  /// Options for a supervisor on `store` and `source`, not detached.
  supervisor_options make_options();

  /// Spawns a supervisor that the fixture shuts down at the end (its pending
  /// timers would otherwise keep the actor system waiting) and whose
  /// children it observes (supervisor_options::observed_children).
  supervisor_actor spawn_supervisor();
  supervisor_actor spawn_supervisor(supervisor_options options);

  /// Sends a request, runs every actor until idle, then takes the reply.
  /// Fails the test if no reply arrived (e.g. a promise still pending).
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& dest, Ts&&... xs) {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    REQUIRE(self->has_next_message());
    caf::expected<T> result{caf::error{}};
    handle.receive([&](T& value) { result = std::move(value); },
                   [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// The current children of a supervisor from spawn_supervisor(), once
  /// every actor is idle.
  std::pair<registry_actor, backend_actor>
  children(const supervisor_actor& sup);

  /// The endpoints it probes, as "service_id url", once every actor is idle.
  std::vector<std::string> probed_endpoints(const supervisor_actor& sup);

  /// The probe of the endpoint at `url` (any service), or null.
  probe_actor probe_of(const supervisor_actor& sup, const std::string& url);

  lifecycle_state lifecycle(const supervisor_actor& sup);

  /// Advances simulated time by `delta`, then runs every actor until idle.
  void advance(caf::timespan delta);

  /// Advances in `step`s for `duration`, running actors after each step,
  /// so that timers set along the way fire too.
  void run_for(caf::timespan duration,
               caf::timespan step = std::chrono::milliseconds(10));

  caf::actor_clock::time_point now() { return sched.clock().now(); }

  // -- probing -----------------------------------------------------------

  std::shared_ptr<prober_script> script = std::make_shared<prober_script>();
  prober_actor prober;
  /// The check schedules, on the simulated clock (start_prober()).
  std::shared_ptr<sim_engine> engine;
  std::shared_ptr<probe_metrics> metrics = std::make_shared<probe_metrics>();

  /// Probe settings for tests: interval 10s, fast 1s, no jitter, timeout
  /// 2s, 1 retry after 100ms, thresholds 2/3.
  static probe_settings test_probe_settings();

  /// Spawns the scripted prober and the engine that uses it (once).
  void start_prober();

  /// make_options() with probing through the scripted prober.
  supervisor_options make_probing_options(probe_settings settings);

  /// Sends `result` as the answer to `attempt` and runs every actor.
  void answer(const scripted_attempt& attempt, attempt_result result);
};

/// Spawns an actor that records every version it is notified of.
caf::actor spawn_version_recorder(caf::actor_system& sys,
                                  std::shared_ptr<std::vector<uint64_t>> seen);

} // namespace orasi::test
