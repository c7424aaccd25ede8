#include "probing/sharded_engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/config/health_check_config.hpp"

namespace orasi {

namespace {

/// FNV-1a, 64 bits: defined by its text, unlike std::hash, so an endpoint
/// lands on the same shard in every build and every run.
uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

} // namespace

static_assert(max_engine_shards == max_engine_threads,
              "the config's engine_threads bound is the engine's");

// A handle is the shard's own handle times the shard count plus the shard
// index: decoding it is a division, and with one shard it is the prober's
// handle unchanged. Shard handles count from 1, so no handle is 0.

sharded_engine::sharded_engine(size_t shards, http_prober_options options) {
  if (shards == 0 || shards > max_engine_shards)
    throw std::invalid_argument("sharded_engine: " + std::to_string(shards) +
                                " shards (1.." +
                                std::to_string(max_engine_shards) + ")");
  auto cap = options.max_idle_connections;
  // The lookup threads too are divided, so that more shards do not mean
  // more threads blocked in getaddrinfo (each shard keeps at least one).
  options.resolver_threads =
      std::max<size_t>(1, options.resolver_threads / shards);
  shards_.reserve(shards);
  for (size_t i = 0; i < shards; ++i) {
    if (cap)
      options.max_idle_connections = *cap / shards + (i < *cap % shards);
    shards_.push_back(std::make_unique<http_prober>(options));
  }
}

sharded_engine::~sharded_engine() {
  shutdown();
}

void sharded_engine::shutdown() {
  for (auto& shard : shards_)
    shard->shutdown();
}

// By a stable hash of the endpoint URL, not round-robin: an endpoint whose
// schedule is removed and added again (its probe restarted or replaced)
// returns to the shard that holds its idle keep-alive connection and its
// host's cached addresses, where round-robin would open a second
// connection on another shard while the first idles until idle_timeout.
// Hashing balances many endpoints well; a handful may share one shard.
size_t sharded_engine::shard_of(std::string_view endpoint_url) const {
  return fnv1a(endpoint_url) % shards_.size();
}

uint64_t sharded_engine::add_schedule(check_spec spec) {
  auto index = shard_of(spec.endpoint_url);
  auto handle = shards_[index]->add_schedule(std::move(spec));
  return handle * shards_.size() + index;
}

void sharded_engine::set_fast(uint64_t handle, bool fast) {
  auto count = shards_.size();
  shards_[handle % count]->set_fast(handle / count, fast);
}

void sharded_engine::remove_schedule(uint64_t handle) {
  auto count = shards_.size();
  shards_[handle % count]->remove_schedule(handle / count);
}

size_t sharded_engine::open_connections() const {
  return sum(&http_prober::open_connections);
}

size_t sharded_engine::in_flight() const {
  return sum(&http_prober::in_flight);
}

size_t sharded_engine::dns_lookups() const {
  return sum(&http_prober::dns_lookups);
}

size_t sharded_engine::schedules() const {
  return sum(&http_prober::schedules);
}

size_t sharded_engine::idle_cap_closures() const {
  return sum(&http_prober::idle_cap_closures);
}

size_t sharded_engine::sum(size_t (http_prober::*counter)() const) const {
  size_t total = 0;
  for (auto& shard : shards_)
    total += (*shard.*counter)();
  return total;
}

} // namespace orasi
