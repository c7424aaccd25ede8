// The probe engine on more than one thread: K http_prober shards, each with
// its own io_context, loop thread, connection pool and host cache, behind
// one check_port. A schedule lives on one shard for its whole life; the
// handle says which, so set_fast and remove_schedule go straight to it
// (no map, no lock). With one shard every call is the prober's own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "probing/check_port.hpp"
#include "probing/http_prober.hpp"

namespace orasi {

/// Most shards an engine may have (the config's engine_threads bound).
constexpr size_t max_engine_shards = 64;

class sharded_engine : public check_port {
public:
  /// Starts `shards` probers (1..max_engine_shards; std::invalid_argument
  /// otherwise), each built from `options`. A max_idle_connections cap is
  /// the engine's total, divided over the shards: each keeps cap / shards,
  /// the first cap % shards one more (so a cap below the shard count
  /// leaves some shards without idle connections).
  sharded_engine(size_t shards, http_prober_options options = {});

  /// Shuts every shard down (see shutdown()).
  ~sharded_engine() override;

  sharded_engine(const sharded_engine&) = delete;
  sharded_engine& operator=(const sharded_engine&) = delete;

  /// Shuts every shard down on the caller's thread; idempotent.
  void shutdown();

  /// check_port: the schedule goes to shard_of(spec.endpoint_url).
  uint64_t add_schedule(check_spec spec) override;
  void set_fast(uint64_t handle, bool fast) override;
  void remove_schedule(uint64_t handle) override;

  size_t shard_count() const { return shards_.size(); }

  /// The shard an endpoint's schedule goes to.
  size_t shard_of(std::string_view endpoint_url) const;

  /// One shard, for its own counters.
  const http_prober& shard(size_t index) const { return *shards_[index]; }

  /// The shards' counters summed (see http_prober).
  size_t open_connections() const;
  size_t in_flight() const;
  size_t dns_lookups() const;
  size_t schedules() const;
  size_t idle_cap_closures() const;

private:
  size_t sum(size_t (http_prober::*counter)() const) const;

  std::vector<std::unique_ptr<http_prober>> shards_;
};

} // namespace orasi
