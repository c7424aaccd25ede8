#include "actors/snapshot_store.hpp"

#include <cassert>

namespace orasi {

namespace {

std::atomic<uint64_t> next_store_id{1};

/// The last snapshot this thread read, and from which store.
struct reader_cache {
  uint64_t store_id = 0;
  uint64_t version = 0;
  SnapshotPtr snapshot;
};

thread_local reader_cache this_thread_cache;

} // namespace

snapshot_store::snapshot_store()
    : store_id_(next_store_id.fetch_add(1)),
      version_(0),
      current_(std::make_shared<const RegistrySnapshot>()) {}

SnapshotPtr snapshot_store::load() const {
  auto& cache = this_thread_cache;
  auto current_version = version_.load(std::memory_order_acquire);
  if (cache.store_id == store_id_ && cache.version == current_version)
    return cache.snapshot;
  auto snapshot =
      std::atomic_load_explicit(&current_, std::memory_order_acquire);
  cache.store_id = store_id_;
  cache.version = snapshot->version;
  cache.snapshot = snapshot;
  return snapshot;
}

void snapshot_store::publish(SnapshotPtr next) {
  assert(next != nullptr);
  auto version = next->version;
  std::atomic_store_explicit(&current_, std::move(next),
                             std::memory_order_release);
  version_.store(version, std::memory_order_release);
}

} // namespace orasi
