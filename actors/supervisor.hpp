// The supervisor: owns the lifecycle, spawns and monitors the registry and
// the backend actor, restarts a crashed child with backoff, and turns probe
// outcomes into endpoint health through the threshold machine.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/backend_adapter.hpp"
#include "actors/probe.hpp"
#include "actors/probe_directory.hpp"
#include "actors/probe_metrics.hpp"
#include "actors/registry.hpp"
#include "messages/endpoint_health_tracker.hpp"

namespace orasi {

using supervisor_actor = caf::typed_actor<
    // stopped -> starting -> running; replies with the version of the first
    // synced snapshot. Fails if the first sync fails or a stop intervenes.
    caf::replies_to<start_atom>::with<uint64_t>,
    // -> stopping -> stopped once every child is down.
    caf::replies_to<stop_atom>::with<caf::ok_atom>,
    caf::replies_to<lifecycle_atom>::with<lifecycle_state>,
    // Writes through the backend; reply = registry version containing them.
    caf::replies_to<register_atom, std::string, ServiceInfo>::with<uint64_t>,
    caf::replies_to<deregister_atom, std::string>::with<uint64_t>,
    // Forced re-read of the backend (SIGHUP).
    caf::replies_to<reload_atom>::with<uint64_t>,
    // Subscriptions survive registry restarts because they are kept here.
    caf::replies_to<subscribe_atom, caf::actor>::with<uint64_t>,
    caf::reacts_to<unsubscribe_atom, caf::actor>,
    // One health check result fed from outside (a host without probing).
    caf::reacts_to<probe_outcome>,
    // Check results from the probe engine, many checks per message.
    caf::reacts_to<probe_outcome_batch>,
    // Restart timer for a crashed child (sent to itself).
    // Tagged with the lifecycle generation that scheduled it.
    caf::reacts_to<restart_atom, child_kind, uint64_t>,
    // The supervisor's own subscription: prunes verdicts of gone endpoints.
    caf::reacts_to<changed_atom, SnapshotPtr>>;

struct restart_policy {
  caf::timespan initial_backoff = std::chrono::milliseconds(100);
  caf::timespan max_backoff = std::chrono::seconds(10);
};

/// Active health checking; without it endpoints keep the health the backend
/// declares.
struct probing_options {
  std::shared_ptr<const probe_settings> settings;
  check_port_ptr engine;                  // runs the probes' check schedules
  std::shared_ptr<probe_metrics> metrics; // may be null
  uint64_t seed = 0; // each probe's jitter seed derives from it
  /// The panic guard: no transition may leave more than this share of the
  /// probed endpoints Unhealthy; 0 turns it off.
  uint32_t panic_threshold_percent = 0;
};

/// The current children; shared with a cleanup functor that ends them when
/// the supervisor ends (state is gone by then).
struct supervisor_children {
  registry_actor registry; // null while stopped or awaiting restart
  backend_actor backend;   // null while stopped or awaiting restart
  probe_directory probes;  // one per known endpoint
};

struct supervisor_options {
  std::shared_ptr<snapshot_store> store;
  backend_options backend;
  /// Production: true (sources block). Deterministic tests: false.
  bool detach_backend = true;
  health_thresholds thresholds;
  restart_policy restarts;
  /// Upper bound for the first sync of start(); below the facade's request
  /// timeout (30 s), so a slow backend fails start() with its own error.
  caf::timespan sync_timeout = std::chrono::seconds(20);
  std::optional<probing_options> probing;
  /// See registry_options::backend_vetoes.
  bool backend_vetoes = false;
  /// See registry_options::health_batch_window.
  caf::timespan health_batch_window = std::chrono::milliseconds(10);
  /// Test seam: when set, the supervisor keeps its children in this record
  /// instead of a private one, so that deterministic tests (one thread,
  /// test_coordinator) see which actors it runs. Production leaves it null.
  std::shared_ptr<supervisor_children> observed_children;
};

/// Restart bookkeeping for one child.
struct child_restarts {
  caf::timespan next_backoff{0};               // delay before the next restart
  caf::actor_clock::time_point last_restart{}; // when it was last restarted
  uint64_t count = 0;                          // restarts so far
};

/// The threshold machine of one endpoint plus its degraded flag.
struct tracked_endpoint {
  endpoint_health_tracker tracker;
  bool last_pass_degraded = false; // the last passing check answered 429
  bool reported_degraded = false;  // what the registry was told
  bool was_decided = false;        // has left Unknown once
  /// What the registry was told; differs from the tracker's state while
  /// the panic guard holds the endpoint's exclusion back.
  EndpointHealthStatus reported = EndpointHealthStatus::Unknown;
  bool held = false; // Unhealthy by the thresholds, held by the guard
};

struct supervisor_state {
  supervisor_options options;
  lifecycle_state lifecycle = lifecycle_state::stopped;
  std::shared_ptr<supervisor_children> children =
      std::make_shared<supervisor_children>();
  uint64_t generation = 0; // bumped by every start; tags restart timers
  std::vector<caf::typed_response_promise<uint64_t>> pending_starts;
  std::vector<caf::typed_response_promise<uint64_t>> queued_starts; // stopping
  caf::error start_failure; // answers pending_starts once stopped
  std::vector<caf::typed_response_promise<caf::ok_atom>> pending_stops;
  std::map<child_kind, child_restarts> restarts;
  std::map<endpoint_key, tracked_endpoint> trackers;
  /// Where the engine delivers the probes' outcomes (this supervisor).
  std::shared_ptr<outcome_sink> sink;
  size_t reported_unhealthy = 0; // trackers reported Unhealthy
  size_t held = 0;               // trackers held by the panic guard
  /// The snapshot version the probes were last matched against.
  std::optional<uint64_t> probed_version;
  /// The snapshot version the trackers were last pruned against.
  std::optional<uint64_t> pruned_version;
  std::vector<caf::actor> subscribers;
  static inline const char* name = "orasi.supervisor";
};

using supervisor_pointer = supervisor_actor::stateful_pointer<supervisor_state>;

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           supervisor_options options);

} // namespace orasi
