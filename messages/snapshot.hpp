// The registry's published state: an immutable snapshot with a version.
// Readers share it through a std::shared_ptr<const RegistrySnapshot>.
#pragma once

#include <cstdint>
#include <memory>

#include "messages/service_info.hpp"

namespace orasi {

/// One published state of the registry. Never modified after publication.
struct RegistrySnapshot {
  /// Increases by one for every published change; 0 before the first sync.
  uint64_t version = 0;
  /// Every known service, endpoint health merged, service health derived.
  ServiceMap services;
  /// The routable view of `services` (see routable_view()).
  ServiceMap healthy;
  /// True while the backend is unreachable and `services` is last-known data.
  bool stale = false;
  /// Increases when the backend's data changed (services or endpoints added,
  /// removed or edited); health changes alone leave it as it is.
  uint64_t backend_generation = 0;
};

using SnapshotPtr = std::shared_ptr<const RegistrySnapshot>;

} // namespace orasi
