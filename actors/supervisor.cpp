#include "actors/supervisor.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "messages/errors.hpp"

namespace orasi {

namespace {

// -- children
// -------------------------------------------------------------------

void spawn_registry(supervisor_pointer self) {
  self->state.children->registry =
      self->spawn<caf::monitored>(registry, self->state.options.store);
}

void spawn_backend(supervisor_pointer self) {
  auto& st = self->state;
  st.children->backend =
      st.options.detach_backend
          ? self->spawn<caf::monitored + caf::detached>(
                backend_adapter, st.children->registry, st.options.backend)
          : self->spawn<caf::monitored>(backend_adapter, st.children->registry,
                                        st.options.backend);
}

/// Re-creates in a new registry what only the supervisor remembers:
/// subscriptions and probe verdicts.
void restore_registry(supervisor_pointer self) {
  auto& st = self->state;
  for (auto& subscriber : st.subscribers)
    self->request(st.children->registry, caf::infinite, subscribe_atom::value,
                  subscriber)
        .then([](uint64_t) {});
  for (auto& [key, tracker] : st.trackers)
    if (tracker.state() != EndpointHealthStatus::Unknown)
      self->request(st.children->registry, caf::infinite,
                    endpoint_health_changed{key.first, key.second,
                                            tracker.state(), "restored"})
          .then([](uint64_t) {});
}

/// Lists the backend into the (new) registry after a restart.
void resync(supervisor_pointer self) {
  auto& st = self->state;
  self->request(st.children->backend, st.options.sync_timeout, sync_atom::value)
      .then([](uint64_t version) { spdlog::info("resynced at v{}", version); },
            [](caf::error& err) {
              spdlog::warn("resync after restart failed: {}",
                           error_message(err));
            });
}

// -- lifecycle
// ------------------------------------------------------------------

void finish_stop(supervisor_pointer self) {
  auto& st = self->state;
  st.lifecycle = lifecycle_state::stopped;
  st.trackers.clear();
  for (auto& promise : st.pending_stops)
    promise.deliver(caf::ok_atom::value);
  st.pending_stops.clear();
}

void begin_stop(supervisor_pointer self) {
  auto& st = self->state;
  st.lifecycle = lifecycle_state::stopping;
  if (st.children->registry)
    self->send_exit(st.children->registry, caf::exit_reason::user_shutdown);
  if (st.children->backend)
    self->send_exit(st.children->backend, caf::exit_reason::user_shutdown);
  if (!st.children->registry && !st.children->backend)
    finish_stop(self);
}

void fail_pending_starts(supervisor_pointer self, const caf::error& err) {
  for (auto& promise : self->state.pending_starts)
    promise.deliver(err);
  self->state.pending_starts.clear();
}

void on_first_sync(supervisor_pointer self, uint64_t version) {
  auto& st = self->state;
  if (st.lifecycle != lifecycle_state::starting)
    return; // a stop came first and already answered the start
  st.lifecycle = lifecycle_state::running;
  spdlog::info("service discovery running ({} backend, v{})",
               st.options.backend.source->name(), version);
  for (auto& promise : st.pending_starts)
    promise.deliver(version);
  st.pending_starts.clear();
}

void on_first_sync_failed(supervisor_pointer self, const caf::error& err) {
  if (self->state.lifecycle != lifecycle_state::starting)
    return;
  spdlog::error("start failed: {}", error_message(err));
  fail_pending_starts(self, err);
  begin_stop(self);
}

caf::result<uint64_t> start(supervisor_pointer self) {
  auto& st = self->state;
  switch (st.lifecycle) {
  case lifecycle_state::running:
    return st.options.store->version();
  case lifecycle_state::stopping:
    return make_error(errc::not_running, "service discovery is stopping");
  case lifecycle_state::starting:
    break;
  case lifecycle_state::stopped:
    st.lifecycle = lifecycle_state::starting;
    spawn_registry(self);
    restore_registry(self);
    spawn_backend(self);
    self->request(st.children->backend, st.options.sync_timeout,
                  sync_atom::value)
        .then([self](uint64_t version) { on_first_sync(self, version); },
              [self](caf::error& err) { on_first_sync_failed(self, err); });
    break;
  }
  st.pending_starts.push_back(self->make_response_promise<uint64_t>());
  return st.pending_starts.back();
}

caf::result<caf::ok_atom> stop(supervisor_pointer self) {
  auto& st = self->state;
  switch (st.lifecycle) {
  case lifecycle_state::stopped:
    return caf::ok_atom::value;
  case lifecycle_state::starting:
    fail_pending_starts(
        self, make_error(errc::not_running, "stopped while starting"));
    begin_stop(self);
    break;
  case lifecycle_state::running:
    begin_stop(self);
    break;
  case lifecycle_state::stopping:
    break;
  }
  if (st.lifecycle == lifecycle_state::stopped)
    return caf::ok_atom::value;
  st.pending_stops.push_back(self->make_response_promise<caf::ok_atom>());
  return st.pending_stops.back();
}

// -- crashes and restarts
// -------------------------------------------------------

/// Schedules a restart of `kind` with exponential backoff. The backoff
/// starts over once a child has stayed up for max_backoff.
void schedule_restart(supervisor_pointer self, child_kind kind) {
  auto& st = self->state;
  auto& policy = st.options.restarts;
  auto& bookkeeping = st.restarts[kind];
  auto now = self->clock().now();
  if (bookkeeping.count == 0 ||
      now - bookkeeping.last_restart >= policy.max_backoff)
    bookkeeping.next_backoff = policy.initial_backoff;
  auto delay = bookkeeping.next_backoff;
  bookkeeping.next_backoff = std::min(delay * 2, policy.max_backoff);
  spdlog::warn(
      "{} crashed, restarting in {} ms", to_string(kind),
      std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  self->delayed_send(self, delay, restart_atom::value, kind);
}

void restart(supervisor_pointer self, child_kind kind) {
  auto& st = self->state;
  if (st.lifecycle != lifecycle_state::running)
    return; // stopped meanwhile; the next start spawns fresh children
  auto& bookkeeping = st.restarts[kind];
  bookkeeping.last_restart = self->clock().now();
  ++bookkeeping.count;
  if (kind == child_kind::registry) {
    spawn_registry(self);
    restore_registry(self);
    if (st.children->backend)
      self->send(st.children->backend, attach_atom::value,
                 st.children->registry);
  } else {
    spawn_backend(self);
  }
  if (st.children->backend && st.children->registry)
    resync(self);
}

void on_child_down(supervisor_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  std::optional<child_kind> kind;
  if (st.children->registry && msg.source == st.children->registry.address()) {
    st.children->registry = nullptr;
    kind = child_kind::registry;
  } else if (st.children->backend &&
             msg.source == st.children->backend.address()) {
    st.children->backend = nullptr;
    kind = child_kind::backend;
  } else {
    // A subscriber went away.
    auto& subs = st.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& subscriber) {
                                return subscriber.address() == msg.source;
                              }),
               subs.end());
    return;
  }
  switch (st.lifecycle) {
  case lifecycle_state::stopping:
    if (!st.children->registry && !st.children->backend)
      finish_stop(self);
    break;
  case lifecycle_state::starting:
    on_first_sync_failed(
        self, make_error(errc::backend_unavailable,
                         std::string{to_string(*kind)} + " died during start"));
    break;
  case lifecycle_state::running:
    schedule_restart(self, *kind);
    break;
  case lifecycle_state::stopped:
    break;
  }
}

// -- requests that need a running system
// ----------------------------------------

caf::error not_running_error(const supervisor_state& st) {
  return make_error(errc::not_running, std::string{"service discovery is "} +
                                           to_string(st.lifecycle));
}

caf::error child_restarting_error(const char* child) {
  return make_error(errc::backend_unavailable,
                    std::string{child} + " is restarting, try again");
}

void on_probe_outcome(supervisor_pointer self, const probe_outcome& outcome) {
  auto& st = self->state;
  endpoint_key key{outcome.service_id, outcome.endpoint_url};
  auto tracker = st.trackers.try_emplace(key, st.options.thresholds).first;
  auto transition = tracker->second.record(outcome.passed);
  if (!transition || !st.children->registry)
    return;
  spdlog::info("endpoint {} of {}: now {} ({})", outcome.endpoint_url,
               outcome.service_id, to_string(*transition),
               outcome.passed ? "passing" : outcome.reason);
  caf::anon_send(st.children->registry,
                 endpoint_health_changed{key.first, key.second, *transition,
                                         outcome.reason});
}

} // namespace

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           supervisor_options options) {
  self->state.options = std::move(options);
  self->set_down_handler(
      [self](caf::down_msg& msg) { on_child_down(self, msg); });
  // Children never outlive the supervisor, however it ends.
  self->attach_functor([children = self->state.children](const caf::error&) {
    if (children->registry)
      caf::anon_send_exit(children->registry, caf::exit_reason::user_shutdown);
    if (children->backend)
      caf::anon_send_exit(children->backend, caf::exit_reason::user_shutdown);
  });
  return {
      [self](start_atom) { return start(self); },
      [self](stop_atom) { return stop(self); },
      [self](lifecycle_atom) { return self->state.lifecycle; },
      [self](register_atom, std::string& id,
             ServiceInfo& info) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (st.lifecycle != lifecycle_state::running)
          return not_running_error(st);
        if (!st.children->backend)
          return child_restarting_error("backend");
        return self->delegate(st.children->backend, register_atom::value,
                              std::move(id), std::move(info));
      },
      [self](deregister_atom, std::string& id) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (st.lifecycle != lifecycle_state::running)
          return not_running_error(st);
        if (!st.children->backend)
          return child_restarting_error("backend");
        return self->delegate(st.children->backend, deregister_atom::value,
                              std::move(id));
      },
      [self](reload_atom) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (st.lifecycle != lifecycle_state::running)
          return not_running_error(st);
        if (!st.children->backend)
          return child_restarting_error("backend");
        return self->delegate(st.children->backend, reload_atom::value);
      },
      [self](subscribe_atom, caf::actor& subscriber) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (std::find(st.subscribers.begin(), st.subscribers.end(),
                      subscriber) == st.subscribers.end()) {
          self->monitor(subscriber);
          st.subscribers.push_back(subscriber);
        }
        if (!st.children->registry)
          return st.options.store->version();
        return self->delegate(st.children->registry, subscribe_atom::value,
                              std::move(subscriber));
      },
      [self](unsubscribe_atom, caf::actor& subscriber) {
        auto& st = self->state;
        st.subscribers.erase(std::remove(st.subscribers.begin(),
                                         st.subscribers.end(), subscriber),
                             st.subscribers.end());
        self->demonitor(subscriber);
        if (st.children->registry)
          self->send(st.children->registry, unsubscribe_atom::value,
                     subscriber);
      },
      [self](probe_outcome& outcome) { on_probe_outcome(self, outcome); },
      [self](restart_atom, child_kind kind) { restart(self, kind); },
      [self](children_atom) {
        return std::make_tuple(self->state.children->registry,
                               self->state.children->backend);
      },
  };
}

} // namespace orasi
