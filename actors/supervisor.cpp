#include "actors/supervisor.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "messages/errors.hpp"
#include "messages/health_rules.hpp"

namespace orasi {

namespace {

// -- children
// -------------------------------------------------------------------

void spawn_registry(supervisor_pointer self) {
  auto& st = self->state;
  registry_options options;
  options.probed_health = st.options.probing.has_value();
  options.backend_vetoes = st.options.backend_vetoes;
  options.health_batch_window = st.options.health_batch_window;
  st.children->registry =
      self->spawn<caf::monitored>(registry, st.options.store, options);
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

/// Logs a failed request to a child instead of letting CAF's default error
/// handler end the supervisor (a child dying mid-request is routine here).
auto log_child_error(const char* what) {
  return [what](caf::error& err) {
    spdlog::warn("{} failed: {}", what, error_message(err));
  };
}

/// Re-creates in a new registry what only the supervisor remembers:
/// subscriptions and probe verdicts. The supervisor subscribes itself too,
/// to forget the verdicts of endpoints that disappear.
void restore_registry(supervisor_pointer self) {
  auto& st = self->state;
  auto& registry = st.children->registry;
  auto subscribers = st.subscribers;
  subscribers.push_back(caf::actor_cast<caf::actor>(self));
  for (auto& subscriber : subscribers)
    self->request(registry, caf::infinite, subscribe_atom::value, subscriber)
        .then([](uint64_t) {}, log_child_error("re-subscribing"));
  for (auto& [key, tracked] : st.trackers)
    if (tracked.reported != EndpointHealthStatus::Unknown)
      self->send(registry, endpoint_health_changed{key.first, key.second,
                                                   tracked.reported, "restored",
                                                   tracked.reported_degraded});
}

// -- probes
// ---------------------------------------------------------------------

void spawn_probe(supervisor_pointer self, const endpoint_key& key) {
  auto& st = self->state;
  auto& probing = *st.options.probing;
  if (!st.sink)
    st.sink = make_actor_sink(caf::actor_cast<caf::actor>(self));
  probe_options options;
  options.service_id = key.first;
  options.endpoint_url = key.second;
  options.settings = probing.settings;
  options.engine = probing.engine;
  options.sink = st.sink;
  options.observer = probing.metrics;
  // A probe that replaces one (a restart) starts where the thresholds are.
  if (auto tracked = st.trackers.find(key); tracked != st.trackers.end())
    options.fast = changing_state(tracked->second.tracker);
  // Distinct per endpoint, reproducible for a given base seed.
  options.seed =
      probing.seed ^ std::hash<std::string>{}(key.first + " " + key.second);
  st.children->probes.emplace(
      key, self->spawn<caf::monitored>(probe, std::move(options)));
}

void stop_probe(supervisor_pointer self, const probe_actor& handle) {
  self->demonitor(handle.address());
  self->send_exit(handle, caf::exit_reason::user_shutdown);
}

void stop_all_probes(supervisor_pointer self) {
  auto& st = self->state;
  for (auto& [key, handle] : st.children->probes)
    stop_probe(self, handle);
  st.children->probes.clear();
  st.probed_version.reset();
  if (st.options.probing && st.options.probing->metrics)
    st.options.probing->metrics->set_active_probes(0);
}

void update_active_probes(supervisor_state& st) {
  if (st.options.probing && st.options.probing->metrics)
    st.options.probing->metrics->set_active_probes(st.children->probes.size());
}

void release_held(supervisor_pointer self); // the panic guard, below

/// Whether `snapshot` directly follows the version last seen, so that its
/// change set is all there is to apply; false also for one already seen.
bool follows(const std::optional<uint64_t>& seen,
             const RegistrySnapshot& snapshot) {
  return seen && *seen + 1 == snapshot.version;
}

bool seen_already(const std::optional<uint64_t>& seen,
                  const RegistrySnapshot& snapshot) {
  return seen && snapshot.version <= *seen;
}

/// Applies the snapshot's endpoint changes to the probes: O(change).
void apply_endpoint_changes(supervisor_pointer self,
                            const RegistryChanges& changes) {
  auto& probes = self->state.children->probes;
  for (const auto& key : changes.endpoints_removed) {
    if (auto probe = probes.find(key); probe != probes.end()) {
      stop_probe(self, probe->second);
      probes.erase(probe);
    }
  }
  for (const auto& key : changes.endpoints_added)
    if (probes.count(key) == 0)
      spawn_probe(self, key);
}

/// Matches the probes against every endpoint of `snapshot`: O(registry),
/// for a first look or after missed versions.
void match_all_endpoints(supervisor_pointer self,
                         const RegistrySnapshot& snapshot) {
  auto endpoints = endpoint_keys(snapshot.services);
  auto& probes = self->state.children->probes;
  for (auto i = probes.begin(); i != probes.end();) {
    if (endpoints.count(i->first) > 0) {
      ++i;
    } else {
      stop_probe(self, i->second);
      i = probes.erase(i);
    }
  }
  for (const auto& key : endpoints)
    if (probes.count(key) == 0)
      spawn_probe(self, key);
}

/// One probe per endpoint of `snapshot`: starts the missing ones and stops
/// those whose endpoint is gone, from the snapshot's change set when the
/// probes match the version before it.
void reconcile_probes(supervisor_pointer self,
                      const RegistrySnapshot& snapshot) {
  auto& st = self->state;
  if (!st.options.probing || (st.lifecycle != lifecycle_state::starting &&
                              st.lifecycle != lifecycle_state::running))
    return;
  if (seen_already(st.probed_version, snapshot))
    return;
  bool endpoints_changed = true;
  if (follows(st.probed_version, snapshot)) {
    const auto& changes = snapshot.changes;
    endpoints_changed =
        !changes.endpoints_added.empty() || !changes.endpoints_removed.empty();
    apply_endpoint_changes(self, changes);
  } else {
    match_all_endpoints(self, snapshot);
  }
  st.probed_version = snapshot.version;
  if (!endpoints_changed)
    return;
  update_active_probes(st);
  if (st.held > 0)
    release_held(self); // more endpoints may allow more exclusions
}

/// Forgets a crashed probe; true if `source` was one.
bool forget_probe(supervisor_state& st, const caf::actor_addr& source) {
  auto& probes = st.children->probes;
  for (auto i = probes.begin(); i != probes.end(); ++i) {
    if (i->second.address() == source) {
      probes.erase(i);
      st.probed_version.reset(); // the next reconcile respawns it
      update_active_probes(st);
      return true;
    }
  }
  return false;
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

void begin_start(supervisor_pointer self);

void finish_stop(supervisor_pointer self) {
  auto& st = self->state;
  st.lifecycle = lifecycle_state::stopped;
  st.children->probes.forget_trackers();
  st.trackers.clear();
  st.reported_unhealthy = 0;
  st.held = 0;
  st.pruned_version.reset();
  // A failed start is answered only now, so that a caller who retries at
  // once finds the supervisor stopped rather than stopping.
  for (auto& promise : st.pending_starts)
    promise.deliver(st.start_failure);
  st.pending_starts.clear();
  for (auto& promise : st.pending_stops)
    promise.deliver(caf::ok_atom::value);
  st.pending_stops.clear();
  // Starts that arrived while stopping begin now.
  if (!st.queued_starts.empty()) {
    st.pending_starts = std::move(st.queued_starts);
    st.queued_starts.clear();
    begin_start(self);
  }
}

void begin_stop(supervisor_pointer self) {
  auto& st = self->state;
  st.lifecycle = lifecycle_state::stopping;
  stop_all_probes(self);
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
  // The first listing may publish nothing new (same content as before a
  // stop), so probes cannot wait for a change notification.
  reconcile_probes(self, *st.options.store->current());
}

void on_first_sync_failed(supervisor_pointer self, const caf::error& err) {
  if (self->state.lifecycle != lifecycle_state::starting)
    return;
  spdlog::error("start failed: {}", error_message(err));
  self->state.start_failure = err; // answered once every child is down
  begin_stop(self);
}

/// stopped -> starting: spawns the children and asks for the first sync.
void begin_start(supervisor_pointer self) {
  auto& st = self->state;
  st.lifecycle = lifecycle_state::starting;
  ++st.generation; // restart timers of earlier runs are void from now on
  st.start_failure = caf::error{};
  spawn_registry(self);
  restore_registry(self);
  spawn_backend(self);
  self->request(st.children->backend, st.options.sync_timeout, sync_atom::value)
      .then([self](uint64_t version) { on_first_sync(self, version); },
            [self](caf::error& err) { on_first_sync_failed(self, err); });
}

caf::result<uint64_t> start(supervisor_pointer self) {
  auto& st = self->state;
  switch (st.lifecycle) {
  case lifecycle_state::running:
    return st.options.store->version();
  case lifecycle_state::stopping:
    // Begins once the stop is complete (see finish_stop).
    st.queued_starts.push_back(self->make_response_promise<uint64_t>());
    return st.queued_starts.back();
  case lifecycle_state::starting:
    break;
  case lifecycle_state::stopped:
    begin_start(self);
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
  self->delayed_send(self, delay, restart_atom::value, kind, st.generation);
}

bool is_alive(const supervisor_state& st, child_kind kind) {
  switch (kind) {
  case child_kind::registry:
    return bool{st.children->registry};
  case child_kind::backend:
    return bool{st.children->backend};
  case child_kind::probes:
    break;
  }
  return false; // a probe restart always re-checks every endpoint
}

void restart(supervisor_pointer self, child_kind kind, uint64_t generation) {
  auto& st = self->state;
  // A timer from before a stop/start, or for a child that exists again,
  // must not spawn a second child. (Probes may also come back while the
  // supervisor is still starting.)
  bool active =
      st.lifecycle == lifecycle_state::running ||
      (kind == child_kind::probes && st.lifecycle == lifecycle_state::starting);
  if (!active || generation != st.generation || is_alive(st, kind))
    return;
  auto& bookkeeping = st.restarts[kind];
  bookkeeping.last_restart = self->clock().now();
  ++bookkeeping.count;
  if (kind == child_kind::probes) {
    reconcile_probes(self, *st.options.store->current());
    return;
  }
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
  } else if (forget_probe(st, msg.source)) {
    kind = child_kind::probes;
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
    if (*kind == child_kind::probes) {
      schedule_restart(self, *kind);
      break;
    }
    on_first_sync_failed(
        self, make_error(errc::backend_unavailable,
                         std::string{to_string(*kind)} + " died during start"));
    break;
  case lifecycle_state::running:
    // No updates flow while the backend is down: say so to readers. The new
    // adapter clears the flag on its first successful listing.
    if (*kind == child_kind::backend && st.children->registry)
      caf::anon_send(st.children->registry,
                     backend_status{true, "backend restarting"});
    schedule_restart(self, *kind);
    break;
  case lifecycle_state::stopped:
    break;
  }
}

// -- requests that need a running system
// ----------------------------------------

/// Why a write or reload cannot be served now, if it cannot.
caf::error cannot_serve(const supervisor_state& st) {
  if (st.lifecycle != lifecycle_state::running)
    return make_error(errc::not_running, std::string{"service discovery is "} +
                                             to_string(st.lifecycle));
  for (auto kind : {child_kind::backend, child_kind::registry})
    if (!is_alive(st, kind))
      return make_error(errc::backend_unavailable,
                        std::string{to_string(kind)} +
                            " is restarting, try again");
  return caf::none;
}

/// Forgets the verdicts of endpoints that are no longer in `snapshot`, so an
/// endpoint that comes back starts from Unknown in the threshold machine too.
void prune_trackers(supervisor_state& st, const RegistrySnapshot& snapshot) {
  if (seen_already(st.pruned_version, snapshot))
    return;
  bool incremental = follows(st.pruned_version, snapshot);
  st.pruned_version = snapshot.version;
  if (st.trackers.empty())
    return; // nothing to prune (e.g. probing off): skip the key set
  auto forget = [&st](std::map<endpoint_key, tracked_endpoint>::iterator i) {
    st.reported_unhealthy -=
        i->second.reported == EndpointHealthStatus::Unhealthy;
    st.held -= i->second.held;
    st.children->probes.forget_tracker(i->first);
    return st.trackers.erase(i);
  };
  if (incremental) {
    for (const auto& key : snapshot.changes.endpoints_removed)
      if (auto i = st.trackers.find(key); i != st.trackers.end())
        forget(i);
    return;
  }
  auto endpoints = endpoint_keys(snapshot.services);
  for (auto i = st.trackers.begin(); i != st.trackers.end();)
    i = endpoints.count(i->first) > 0 ? std::next(i) : forget(i);
}

/// The endpoint an outcome may change and its tracker, if any: only while
/// starting or running, and with probing only from the current probe of
/// that endpoint (a probe stopped with its endpoint, or by a stop, may have
/// results in flight). Outcomes fed from outside (tests, hosts without
/// probing) name their endpoint, which must still exist. A probed
/// endpoint's tracker is found through the probe directory's cache.
std::optional<std::pair<const endpoint_key*, tracked_endpoint*>>
endpoint_for(supervisor_pointer self, const probe_outcome& outcome,
             endpoint_key& fed) {
  auto& st = self->state;
  if (st.lifecycle != lifecycle_state::starting &&
      st.lifecycle != lifecycle_state::running)
    return std::nullopt;
  auto tracker_of = [&st](const endpoint_key& key) {
    return &st.trackers
                .try_emplace(key, tracked_endpoint{endpoint_health_tracker{
                                      st.options.thresholds}})
                .first->second;
  };
  if (st.options.probing) {
    auto* probe = st.children->probes.find_id(outcome.probe_id);
    if (!probe)
      return std::nullopt;
    if (!probe->tracker)
      probe->tracker = tracker_of(probe->key());
    return std::make_pair(&probe->key(), probe->tracker);
  }
  fed = {outcome.service_id, outcome.endpoint_url};
  bool known = st.options.store->visit([&](const RegistrySnapshot& snapshot) {
    return has_endpoint(snapshot.services, fed.first, fed.second);
  });
  if (!known)
    return std::nullopt;
  return std::make_pair(&fed, tracker_of(fed));
}

/// Tells the registry what an endpoint now is, keeping count of the
/// endpoints reported Unhealthy.
void report(supervisor_pointer self, const endpoint_key& key,
            tracked_endpoint& tracked, EndpointHealthStatus status,
            bool degraded, const std::string& reason) {
  auto& st = self->state;
  st.reported_unhealthy -= tracked.reported == EndpointHealthStatus::Unhealthy;
  st.reported_unhealthy += status == EndpointHealthStatus::Unhealthy;
  tracked.reported = status;
  tracked.reported_degraded = degraded;
  if (st.children->registry)
    self->send(st.children->registry,
               endpoint_health_changed{key.first, key.second, status, reason,
                                       degraded});
}

/// Counts a transition and adds it to the log the dashboard's timeline
/// reads (probe_metrics keeps the last transitions_kept).
void log_transition(supervisor_state& st, const endpoint_key& key,
                    EndpointHealthStatus from, EndpointHealthStatus to,
                    std::string reason) {
  if (!st.options.probing || !st.options.probing->metrics)
    return;
  EndpointTransition change;
  change.at = std::chrono::system_clock::now();
  change.service_id = key.first;
  change.endpoint_url = key.second;
  change.from = from;
  change.to = to;
  change.reason = std::move(reason);
  st.options.probing->metrics->transition(std::move(change));
}

/// The panic guard (opt-in): whether taking one more endpoint out would
/// leave more than the threshold's share of the probed endpoints Unhealthy.
/// When most endpoints fail at once, the cause is more often the prober's
/// own network than the fleet; excluding them all would empty the routable
/// view, so their last state is kept until fewer fail.
bool panic_holds(const supervisor_state& st) {
  if (!st.options.probing || st.options.probing->panic_threshold_percent == 0)
    return false;
  auto total = st.children->probes.size();
  return (st.reported_unhealthy + 1) * 100 >
         st.options.probing->panic_threshold_percent * total;
}

/// Reports held exclusions for as long as the guard allows.
void release_held(supervisor_pointer self) {
  auto& st = self->state;
  for (auto i = st.trackers.begin(); st.held > 0 && i != st.trackers.end();
       ++i) {
    if (!i->second.held)
      continue;
    if (panic_holds(st))
      return;
    i->second.held = false;
    --st.held;
    log_transition(st, i->first, i->second.reported,
                   EndpointHealthStatus::Unhealthy,
                   "no longer held by the panic guard");
    spdlog::info("endpoint {} of {}: now Unhealthy (no longer held by the "
                 "panic guard)",
                 i->first.second, i->first.first);
    report(self, i->first, i->second, EndpointHealthStatus::Unhealthy, false,
           "no longer held by the panic guard");
  }
  spdlog::info("panic guard: every held endpoint is now reported");
}

/// Holds back a transition to Unhealthy while the guard says so; true if
/// it did. Asked again at every failing check of a held endpoint, so that it
/// goes as soon as the guard allows, not only when another endpoint changes.
bool hold_exclusion(supervisor_pointer self, const endpoint_key& key,
                    tracked_endpoint& tracked) {
  auto& st = self->state;
  if (!panic_holds(st)) {
    if (tracked.held) {
      tracked.held = false;
      --st.held;
    }
    return false;
  }
  if (tracked.held)
    return true;
  if (st.held++ == 0)
    spdlog::warn("panic guard: more than {}% of the probed endpoints would "
                 "be Unhealthy; keeping the last state of further failing "
                 "endpoints until fewer fail (first: {} of {})",
                 st.options.probing->panic_threshold_percent, key.second,
                 key.first);
  tracked.held = true;
  return true;
}

/// Tells the endpoint's probe when the thresholds move it between the fast
/// and the normal interval (rarely: around its state changes).
void retune_probe(supervisor_pointer self, const endpoint_key& key,
                  bool was_fast, bool fast) {
  if (was_fast == fast || !self->state.options.probing)
    return;
  auto& probes = self->state.children->probes;
  if (auto probe = probes.find(key); probe != probes.end())
    self->send(probe->second, retune_atom::value, fast);
}

/// Applies one check result to the endpoint's threshold machine and tells
/// the registry when its state or its degraded flag changes. What counts as
/// a transition is what the registry was told against what the thresholds
/// say now: while the guard holds an endpoint the two differ, so a held
/// endpoint that recovers makes no transition, and one the guard lets go
/// makes its transition to Unhealthy then.
void on_probe_outcome(supervisor_pointer self, const probe_outcome& outcome) {
  auto& st = self->state;
  endpoint_key fed;
  auto found = endpoint_for(self, outcome, fed);
  if (!found)
    return; // late: from a probe or a run that is over
  const auto& key = *found->first;
  auto& tracked = *found->second;
  auto was_fast = changing_state(tracked.tracker);
  tracked.tracker.record(outcome.passed);
  retune_probe(self, key, was_fast, changing_state(tracked.tracker));
  if (outcome.passed)
    tracked.last_pass_degraded = outcome.degraded;
  auto state = tracked.tracker.state();
  if (state == EndpointHealthStatus::Unhealthy &&
      tracked.reported != EndpointHealthStatus::Unhealthy &&
      hold_exclusion(self, key, tracked))
    return;
  if (tracked.held) { // recovered while held: nothing to release
    tracked.held = false;
    --st.held;
  }
  bool degraded =
      state == EndpointHealthStatus::Healthy && tracked.last_pass_degraded;
  bool transition = state != tracked.reported;
  if (!transition && degraded == tracked.reported_degraded)
    return;
  if (transition) {
    auto reason = outcome.passed ? std::string{"passing"} : outcome.reason;
    log_transition(st, key, tracked.reported, state, reason);
    // Endpoints turning Healthy at start-up are routine (10,000 lines
    // for 10,000 endpoints): debug. Every other change is news: info.
    auto level = state == EndpointHealthStatus::Healthy && !tracked.was_decided
                     ? spdlog::level::debug
                     : spdlog::level::info;
    tracked.was_decided = true;
    // One line per transition: service, endpoint, old -> new, reason.
    spdlog::log(level, "endpoint {} of {}: {} -> {} ({})", outcome.endpoint_url,
                outcome.service_id, to_string(tracked.reported),
                to_string(state), reason);
  }
  report(self, key, tracked, state, degraded, outcome.reason);
  if (st.held > 0 && state != EndpointHealthStatus::Unhealthy)
    release_held(self);
}

} // namespace

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           supervisor_options options) {
  self->state.options = std::move(options);
  if (self->state.options.observed_children)
    self->state.children = self->state.options.observed_children;
  // One count of what the registry holds, whichever adapter is alive.
  auto& backend = self->state.options.backend;
  if (!backend.forwarded)
    backend.forwarded = std::make_shared<limit_tracker>(backend.limits);
  self->set_down_handler(
      [self](caf::down_msg& msg) { on_child_down(self, msg); });
  // Children never outlive the supervisor, however it ends.
  self->attach_functor([children = self->state.children](const caf::error&) {
    if (children->registry)
      caf::anon_send_exit(children->registry, caf::exit_reason::user_shutdown);
    if (children->backend)
      caf::anon_send_exit(children->backend, caf::exit_reason::user_shutdown);
    for (auto& [key, handle] : children->probes)
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  });
  return {
      [self](start_atom) { return start(self); },
      [self](stop_atom) { return stop(self); },
      [self](lifecycle_atom) { return self->state.lifecycle; },
      [self](register_atom, std::string& id,
             ServiceInfo& info) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (auto err = cannot_serve(st))
          return err;
        return self->delegate(st.children->backend, register_atom::value,
                              std::move(id), std::move(info));
      },
      [self](deregister_atom, std::string& id) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (auto err = cannot_serve(st))
          return err;
        return self->delegate(st.children->backend, deregister_atom::value,
                              std::move(id));
      },
      [self](reload_atom) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (auto err = cannot_serve(st))
          return err;
        return self->delegate(st.children->backend, reload_atom::value);
      },
      [self](subscribe_atom, caf::actor& subscriber) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (std::find(st.subscribers.begin(), st.subscribers.end(),
                      subscriber) == st.subscribers.end()) {
          self->monitor(subscriber);
          st.subscribers.push_back(subscriber);
        }
        if (!st.children->registry) {
          // The registry is restarting: answer from the store, which keeps
          // the last published snapshot. The new registry will not repeat
          // it (it publishes only new versions).
          auto current = st.options.store->current();
          if (current->version > 0)
            caf::anon_send(subscriber, changed_atom::value, current);
          return current->version;
        }
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
      [self](probe_outcome_batch& batch) {
        for (auto& outcome : batch.outcomes)
          on_probe_outcome(self, outcome);
      },
      [self](restart_atom, child_kind kind, uint64_t generation) {
        restart(self, kind, generation);
      },
      [self](changed_atom, const SnapshotPtr& snapshot) {
        prune_trackers(self->state, *snapshot);
        reconcile_probes(self, *snapshot);
        if (self->state.held > 0)
          release_held(self); // fewer endpoints failing, or fewer endpoints
      },
  };
}

} // namespace orasi
