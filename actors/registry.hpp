// The registry actor: merges backend listings with endpoint health, derives
// service health and publishes immutable snapshots with version numbers.
#pragma once

#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/registry_view.hpp"
#include "actors/snapshot_store.hpp"
#include "messages/actor_messages.hpp"

namespace orasi {

/// Every handler that changes state replies with the registry version after
/// the change, i.e. the version that already contains it.
using registry_actor = caf::typed_actor<
    // A full backend listing; replaces all backend data.
    caf::replies_to<backend_snapshot>::with<uint64_t>,
    // Incremental backend changes.
    caf::replies_to<backend_delta>::with<uint64_t>,
    // Backend reachability: stale data stays served while it is down.
    caf::replies_to<backend_status>::with<uint64_t>,
    // A threshold transition decided by the supervisor. Published after
    // the batch window, together with the transitions that arrive meanwhile.
    caf::reacts_to<endpoint_health_changed>,
    // Timer: the batch window of health changes has passed.
    caf::reacts_to<publish_atom>,
    // Adds a subscriber that receives (changed_atom, SnapshotPtr) once per
    // version; it gets the current snapshot at once if there is one.
    caf::replies_to<subscribe_atom, caf::actor>::with<uint64_t>,
    caf::reacts_to<unsubscribe_atom, caf::actor>,
    // The current snapshot, for actors that prefer a message to the store
    // (supported API; bench/read_path_bench measures the store against it).
    caf::replies_to<snapshot_atom>::with<SnapshotPtr>>;

struct registry_options {
  /// True when endpoints are actively probed (see health_merge_rules).
  bool probed_health = false;
  /// With probed_health: the backend's worse verdict still counts (see
  /// health_merge_rules).
  bool backend_vetoes = false;
  /// Health changes arriving within this window are published as one
  /// version: at start-up thousands of endpoints turn Healthy together, and
  /// one version each would wake every subscriber thousands of times.
  caf::timespan health_batch_window = std::chrono::milliseconds(10);
};

struct registry_state {
  std::shared_ptr<snapshot_store> store; // where snapshots are published
  registry_options options;
  registry_view view;                  // backend data, verdicts, views
  bool stale = false;                  // backend unreachable
  bool synced = false;                 // first backend listing received
  bool publish_pending = false;        // a batch window is open
  std::vector<caf::actor> subscribers; // notified once per version
  static inline const char* name = "orasi.registry";
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

/// Spawn with `sys.spawn(registry, store, options)`. Versions continue from the
/// store's current version, so a restarted registry never goes backwards.
/// Nothing is published before the first backend_snapshot, so a restarted
/// registry never shows readers an empty picture.
registry_actor::behavior_type registry(registry_pointer self,
                                       std::shared_ptr<snapshot_store> store,
                                       registry_options options);

} // namespace orasi
