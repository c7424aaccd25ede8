// Bounds on what one backend may put into the registry. Each endpoint costs
// a probe actor, a pooled connection and its share of every snapshot, so a
// runaway writer (or a corrupted prefix) must not turn into unbounded memory
// and sockets. The backend adapter counts what it has forwarded and refuses,
// with an error naming the limit, what would cross one: a full listing as a
// whole (the last good services stay), a change per service (the others
// apply), a registration before it is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/error.hpp>

#include "messages/service_info.hpp"

namespace orasi {

struct backend_limits {
  size_t max_services = 50'000;
  size_t max_endpoints = 100'000; // over all services
};

/// A 64-bit hash of every field of `info`: equal services have equal
/// fingerprints; different ones collide with a chance of about 2^-64.
uint64_t service_fingerprint(const ServiceInfo& info);

/// Counts what the adapter forwarded per service (endpoints, fingerprint).
class limit_tracker {
public:
  explicit limit_tracker(backend_limits limits = {}) : limits_(limits) {}

  /// An error naming the limit if the full listing `services` exceeds one,
  /// counting the last good values the registry keeps for `unreadable` ids.
  caf::error check_listing(const ServiceMap& services,
                           const std::vector<std::string>& unreadable) const;

  /// A full listing was forwarded. `unreadable`: ids the registry keeps
  /// its last good value for (they keep their count).
  void accept_listing(const ServiceMap& services,
                      const std::vector<std::string>& unreadable);

  /// Applies `removals`, then each upsert that fits; those that would
  /// cross a limit are erased from `upserts`, one message each returned.
  std::vector<std::string>
  filter_delta(ServiceMap& upserts, const std::vector<std::string>& removals);

  /// An error if storing `info` as `id` would cross a limit.
  caf::error check_upsert(const std::string& id, const ServiceInfo& info) const;

  /// What a full listing changes in what was forwarded, by fingerprint:
  /// O(listing), so that the adapter (not the registry, which serves the
  /// watch events) compares a periodic re-listing. Ids in `unreadable`
  /// keep their forwarded value and appear in neither list.
  struct listing_changes {
    std::vector<std::string> upserted; // new or different, in id order
    std::vector<std::string> removed;
  };
  listing_changes changes_to(const ServiceMap& services,
                             const std::vector<std::string>& unreadable) const;

  size_t services() const { return forwarded_.size(); }
  size_t endpoints() const { return total_endpoints_; }
  const backend_limits& limits() const { return limits_; }

private:
  std::string over_limit(const std::string& id, const ServiceInfo& info) const;

  /// What the tracker keeps of one forwarded service.
  struct forwarded_service {
    size_t endpoints = 0;
    uint64_t fingerprint = 0; // service_fingerprint() of its value
  };
  void forward(const std::string& id, const ServiceInfo& info);

  backend_limits limits_;
  std::unordered_map<std::string, forwarded_service> forwarded_; // by id
  size_t total_endpoints_ = 0;
};

} // namespace orasi
