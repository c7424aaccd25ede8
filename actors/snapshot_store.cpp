#include "actors/snapshot_store.hpp"

#include <cassert>
#include <thread>
#include <utility>

namespace orasi {

/// The last snapshot this thread read, and from which store.
struct snapshot_store::reader_cache {
  uint64_t store_id = 0;
  uint64_t version = 0;
  SnapshotPtr snapshot;
  bool pinned = false; // lent to a visit() that has not returned yet
};

thread_local snapshot_store::reader_cache snapshot_store::this_thread_cache_;

namespace {

std::atomic<uint64_t> next_store_id{1};

} // namespace

snapshot_store::snapshot_store()
    : store_id_(next_store_id.fetch_add(1)), version_(0) {
  slots_[0].snapshot = std::make_shared<const RegistrySnapshot>();
}

// The reader announces itself on the slot it saw current, then checks that
// the slot is still current. All four operations are sequentially
// consistent: if the writer saw `readers == 0` before rewriting the slot,
// the writer's earlier switch away from it comes first in the total order,
// so the check here fails and the slot is not read; if the check passes,
// the writer's rewrite (which precedes making the slot current again) is
// visible. Either way the copy never races with the writer.
SnapshotPtr snapshot_store::current() const {
  for (;;) {
    auto index = current_slot_.load();
    auto& candidate = slots_[index];
    candidate.readers.fetch_add(1);
    if (current_slot_.load() == index) {
      SnapshotPtr result = candidate.snapshot;
      candidate.readers.fetch_sub(1);
      return result;
    }
    candidate.readers.fetch_sub(1); // the writer moved on: look again
  }
}

SnapshotPtr snapshot_store::load() const {
  auto* cache = pin_for_this_thread();
  if (cache == nullptr)
    return current(); // inside a visit(): leave the lent snapshot alone
  auto result = cache->snapshot;
  unpin(cache);
  return result;
}

snapshot_store::reader_cache* snapshot_store::pin_for_this_thread() const {
  auto& cache = this_thread_cache_;
  if (cache.pinned)
    return nullptr;
  auto current_version = version_.load(std::memory_order_acquire);
  if (cache.store_id != store_id_ || cache.version != current_version) {
    auto snapshot = current();
    cache.store_id = store_id_;
    cache.version = snapshot->version;
    cache.snapshot = std::move(snapshot);
  }
  cache.pinned = true;
  return &cache;
}

void snapshot_store::unpin(reader_cache* cache) {
  cache->pinned = false;
}

const RegistrySnapshot& snapshot_store::snapshot_of(const reader_cache* cache) {
  return *cache->snapshot;
}

uint32_t snapshot_store::free_slot() const {
  auto current = current_slot_.load();
  for (;;) {
    for (uint32_t step = 1; step < slot_count; ++step) {
      auto index = (current + step) % slot_count;
      if (slots_[index].readers.load() == 0)
        return index;
    }
    // Every other slot has a reader mid-copy (a few instructions each,
    // unless the reader was preempted there).
    std::this_thread::yield();
  }
}

void snapshot_store::publish(SnapshotPtr next) {
  assert(next != nullptr);
  std::lock_guard<std::mutex> lock{writer_mutex_};
  auto version = next->version;
  auto index = free_slot();
  // The snapshot the slot held is released here, after the switch, on the
  // writer's thread (unless a reader's cache still holds it).
  auto previous = std::exchange(slots_[index].snapshot, std::move(next));
  current_slot_.store(index);
  version_.store(version, std::memory_order_release);
  // Older slots let their snapshots go, so that only the current one is
  // kept alive here; a slot a reader is still announced on keeps its own
  // until the next publish (the reader will not copy it: it is not current).
  for (uint32_t other = 0; other < slot_count; ++other)
    if (other != index && slots_[other].readers.load() == 0)
      slots_[other].snapshot.reset();
}

size_t snapshot_store::filled_slots() const {
  size_t filled = 0;
  for (const auto& each : slots_)
    filled += each.snapshot != nullptr ? 1 : 0;
  return filled;
}

} // namespace orasi
