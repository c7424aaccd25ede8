// Where the registry publishes its snapshots and where readers take them.
// Not an actor: the point is that reads need no message round trip.
#pragma once

#include <atomic>
#include <cstdint>

#include "messages/snapshot.hpp"

namespace orasi {

/// Holds the current RegistrySnapshot. One writer (the registry actor), any
/// number of reader threads.
///
/// A read is one atomic load of the version plus a check of a per-thread
/// cache; only when the version moved does the reader take the shared
/// pointer through std::atomic_load. So the steady-state read path takes no
/// lock and touches no shared cache line except the snapshot's refcount.
class snapshot_store {
public:
  snapshot_store();

  snapshot_store(const snapshot_store&) = delete;
  snapshot_store& operator=(const snapshot_store&) = delete;

  /// The current snapshot (never null; version 0 before the first sync).
  SnapshotPtr load() const;

  /// The version of the current snapshot.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  /// Makes `next` current. Versions must increase; only the registry calls it.
  void publish(SnapshotPtr next);

private:
  const uint64_t store_id_;       // distinguishes stores in per-thread caches
  std::atomic<uint64_t> version_; // mirrors current_->version
  SnapshotPtr current_;           // only accessed via std::atomic_load/store
};

} // namespace orasi
