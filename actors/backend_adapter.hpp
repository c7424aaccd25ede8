// The backend actor: adapts one backends::discovery_source to messages. It
// lists the source into the registry, polls it for changes (on its timer and
// whenever a push source signals news), re-lists it every refresh interval as
// a safety net, and performs register/deregister writes. A stop (exit reason
// user_shutdown) suspends the source, which withdraws its registrations; a
// crash does not, so that a restarted adapter carries on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/backend_limits.hpp"
#include "actors/registry.hpp"
#include "backends/discovery_source.hpp"

namespace orasi {

/// Writes and syncs reply with the registry version that contains their
/// effect, which is what makes register_service read-your-writes.
using backend_actor = caf::typed_actor<
    // Full listing into the registry now (start, after a restart).
    caf::replies_to<sync_atom>::with<uint64_t>,
    // Forced re-read of the origin (SIGHUP); fails on invalid new content.
    caf::replies_to<reload_atom>::with<uint64_t>,
    caf::replies_to<register_atom, std::string, ServiceInfo>::with<uint64_t>,
    caf::replies_to<deregister_atom, std::string>::with<uint64_t>,
    // Points the adapter at a new registry (after a registry restart).
    caf::reacts_to<attach_atom, registry_actor>,
    // Poll timer (sent to itself).
    caf::reacts_to<tick_atom>,
    // The source has news (push sources, from their own threads).
    caf::reacts_to<wake_atom>>;

struct backend_options {
  /// Shared with the supervisor so that a restarted adapter keeps the
  /// source's state (e.g. the static backend's in-memory registrations).
  std::shared_ptr<backends::discovery_source> source;
  /// How often to ask the source for changes (file mtime, ...).
  caf::timespan poll_interval = std::chrono::seconds(1);
  /// How often to re-list everything even without a change signal.
  caf::timespan refresh_interval = std::chrono::seconds(30);
  /// What the backend may put into the registry (see backend_limits.hpp).
  backend_limits limits;
  /// Listings and changes refused by the limits (shared across restarts,
  /// read by the metrics); may be null.
  std::shared_ptr<std::atomic<uint64_t>> limit_refusals;
  /// What the registry holds from the backend, counted against `limits`.
  /// Shared across restarts like the source (the registry keeps its
  /// services when an adapter restarts); created on first use if null.
  std::shared_ptr<limit_tracker> forwarded;
};

struct backend_state {
  backend_options options;
  registry_actor registry;                     // where listings and deltas go
  caf::actor_clock::time_point last_listing{}; // of the last full listing
  // Whether the last contact with the source failed; unknown until the
  // first contact, so a new adapter always reports (a predecessor may have
  // left the registry marked stale).
  std::optional<bool> stale;
  uint64_t rejected_updates = 0; // invalid content seen by poll()
  // Whether `registry` was sent a full listing. A registry takes deltas
  // only after one, and a restarted registry whose resync failed would
  // otherwise drop every change: until then a full listing is due at each
  // poll, and it goes as a backend_snapshot, not as a delta.
  bool registry_synced = false;
  limit_tracker& forwarded() { return *options.forwarded; }
  static inline const char* name = "orasi.backend";
};

using backend_pointer = backend_actor::stateful_pointer<backend_state>;

/// Spawned by the supervisor, detached in production (sources block).
backend_actor::behavior_type backend_adapter(backend_pointer self,
                                             registry_actor registry,
                                             backend_options options);

} // namespace orasi
