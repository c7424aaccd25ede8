// Where the registry publishes its snapshots and where readers take them.
// Not an actor: the point is that reads need no message round trip.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "messages/snapshot.hpp"

namespace orasi {

/// Holds the current RegistrySnapshot. One writer (the registry actor), any
/// number of reader threads. No read takes a lock:
/// - Each thread caches the last snapshot it read. A read checks one atomic
///   version against that cache, so the steady-state read is one atomic load.
/// - Only when the version moved does the reader copy the new `shared_ptr`,
///   out of one of a few slots (see current()): a counter increment, a check,
///   the copy and a decrement. A reader may have to retry when the writer
///   publishes meanwhile, never waits for a lock.
/// - The writer fills a slot that no reader is copying from, then makes it
///   current; it may spin (yielding) while readers finish their copies.
/// - load() returns a shared pointer: it touches the snapshot's reference
///   count, a cache line all reading threads share.
/// - visit() lends the cached snapshot to a function without touching the
///   reference count, so concurrent readers share nothing writable.
/// A thread's cache keeps its last snapshot alive until the thread reads
/// again or exits; the slots keep only the current one.
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
  /// and for threads that read too rarely to keep a cache warm). Lock-free.
  SnapshotPtr current() const;

  /// The version of the current snapshot.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  /// Makes `next` current. Versions must increase; only the registry calls it.
  void publish(SnapshotPtr next);

  /// How many slots hold a snapshot (the current one, and older ones a
  /// reader was still copying from at the last publish). For tests.
  size_t filled_slots() const;

private:
  struct reader_cache;
  static thread_local reader_cache this_thread_cache_;

  /// This thread's cache, refreshed and pinned; nullptr if already pinned.
  reader_cache* pin_for_this_thread() const;
  static void unpin(reader_cache* cache);
  static const RegistrySnapshot& snapshot_of(const reader_cache* cache);

  /// One place a published snapshot is read from. `readers` counts the
  /// readers copying `snapshot` right now; the writer changes `snapshot`
  /// only while the slot is not current and `readers` is 0, which is what
  /// makes the plain `shared_ptr` copy in current() safe.
  struct alignas(64) slot {
    mutable std::atomic<uint32_t> readers{0};
    SnapshotPtr snapshot;
  };
  static constexpr uint32_t slot_count = 4;

  /// A slot other than the current one that no reader is copying from.
  uint32_t free_slot() const;

  const uint64_t store_id_;       // distinguishes stores in per-thread caches
  std::atomic<uint64_t> version_; // mirrors the current snapshot's version
  std::array<slot, slot_count> slots_;
  std::atomic<uint32_t> current_slot_{0};
  std::mutex writer_mutex_; // a restarted registry may overlap its predecessor
};

} // namespace orasi
