// Shared fixture for actor tests: an actor system on CAF's test_coordinator
// (deterministic scheduling, simulated time) and an in-memory source whose
// behaviour each test controls.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include "actors/supervisor.hpp"
#include "messages/errors.hpp"
#include "messages/type_registration.hpp"

namespace orasi::test {

/// A discovery_source held in memory. Tests change `services` and set
/// `fail_next_list` / `poll_update` to script the backend.
class fake_source : public backends::discovery_source {
public:
  ServiceMap services;
  uint64_t revision = 1;
  caf::error fail_next_list; // returned once by list()
  std::optional<backends::source_listing>
      poll_update;       // returned once by poll()
  caf::error poll_error; // returned once by poll()
  int list_calls = 0;

  std::string name() const override { return "fake"; }

  caf::expected<backends::source_listing> list() override {
    ++list_calls;
    if (fail_next_list)
      return std::exchange(fail_next_list, caf::error{});
    return backends::source_listing{services, revision};
  }

  caf::expected<std::optional<backends::source_listing>> poll() override {
    if (poll_error)
      return std::exchange(poll_error, caf::error{});
    return std::exchange(poll_update, std::nullopt);
  }

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
  std::shared_ptr<snapshot_store> store = std::make_shared<snapshot_store>();
  std::shared_ptr<fake_source> source = std::make_shared<fake_source>();

  /// Options for a supervisor on `store` and `source`, not detached.
  supervisor_options make_options();

  /// Spawns a supervisor that the fixture shuts down at the end (its pending
  /// timers would otherwise keep the actor system waiting).
  supervisor_actor spawn_supervisor();

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

  /// The supervisor's current children.
  std::pair<registry_actor, backend_actor>
  children(const supervisor_actor& sup);

  lifecycle_state lifecycle(const supervisor_actor& sup);

  /// Advances simulated time by `delta`, then runs every actor until idle.
  void advance(caf::timespan delta);
};

/// Spawns an actor that records every version it is notified of.
caf::actor spawn_version_recorder(caf::actor_system& sys,
                                  std::shared_ptr<std::vector<uint64_t>> seen);

} // namespace orasi::test
