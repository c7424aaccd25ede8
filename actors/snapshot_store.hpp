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
/// Each thread caches the last snapshot it read. A read checks one atomic
/// version against that cache; only when the version moved does it take the
/// new pointer (through std::atomic_load, which libstdc++ implements with a
/// small pool of mutexes). So the steady-state read takes no lock.
/// - load() returns a shared pointer: it touches the snapshot's reference
///   count, a cache line all reading threads share.
/// - visit() lends the cached snapshot to a function without touching the
///   reference count, so concurrent readers share nothing writable.
/// A thread's cache keeps its last snapshot alive until the thread reads
/// again or exits.
class snapshot_store {
public:
  snapshot_store();

  snapshot_store(const snapshot_store&) = delete;
  snapshot_store& operator=(const snapshot_store&) = delete;

  /// The current snapshot (never null; version 0 before the first sync).
  SnapshotPtr load() const;

  /// Calls `fn(const RegistrySnapshot&)` with the current snapshot and
  /// returns its result. The reference is valid until `fn` returns; reads
  /// nested inside `fn` are safe (they take the slower path).
  template <class F>
  decltype(auto) visit(F&& fn) const {
    auto* cache = pin_for_this_thread();
    if (cache == nullptr) { // nested inside another visit on this thread
      auto snapshot = current();
      return fn(*snapshot);
    }
    struct unpin_on_exit {
      snapshot_store::reader_cache* cache;
      ~unpin_on_exit() { unpin(cache); }
    } guard{cache};
    return fn(snapshot_of(cache));
  }

  /// The current snapshot, bypassing the per-thread cache (for the writer,
  /// and for threads that read too rarely to keep a cache warm).
  SnapshotPtr current() const;

  /// The version of the current snapshot.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  /// Makes `next` current. Versions must increase; only the registry calls it.
  void publish(SnapshotPtr next);

private:
  struct reader_cache;
  static thread_local reader_cache this_thread_cache_;

  /// This thread's cache, refreshed and pinned; nullptr if already pinned.
  reader_cache* pin_for_this_thread() const;
  static void unpin(reader_cache* cache);
  static const RegistrySnapshot& snapshot_of(const reader_cache* cache);

  const uint64_t store_id_;       // distinguishes stores in per-thread caches
  std::atomic<uint64_t> version_; // mirrors current_->version
  SnapshotPtr current_;           // only accessed via std::atomic_load/store
};

} // namespace orasi
