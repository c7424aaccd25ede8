#include "actors/snapshot_store.hpp"

#include <cassert>

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
    : store_id_(next_store_id.fetch_add(1)),
      version_(0),
      current_(std::make_shared<const RegistrySnapshot>()) {}

SnapshotPtr snapshot_store::current() const {
  return std::atomic_load_explicit(&current_, std::memory_order_acquire);
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

void snapshot_store::publish(SnapshotPtr next) {
  assert(next != nullptr);
  auto version = next->version;
  std::atomic_store_explicit(&current_, std::move(next),
                             std::memory_order_release);
  version_.store(version, std::memory_order_release);
}

} // namespace orasi
