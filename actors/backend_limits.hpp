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

  size_t services() const { return endpoints_of_.size(); }
  size_t endpoints() const { return total_endpoints_; }
  const backend_limits& limits() const { return limits_; }

private:
  std::string over_limit(const std::string& id, const ServiceInfo& info) const;

  backend_limits limits_;
  std::unordered_map<std::string, size_t> endpoints_of_; // per service id
  size_t total_endpoints_ = 0;
};

} // namespace orasi
