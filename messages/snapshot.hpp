// The registry's published state: an immutable snapshot with a version and
// what changed since the version before. Readers share it through a
// std::shared_ptr<const RegistrySnapshot>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "messages/service_table.hpp"

namespace orasi {

/// One endpoint: (service id, endpoint url).
using endpoint_key = std::pair<std::string, std::string>;

/// What a snapshot changed relative to the version just before it (for
/// version 1 of a fresh store: relative to an empty registry). Every list is
/// sorted and holds no duplicates. Readers that saw every version can follow
/// the registry by applying these instead of comparing whole snapshots.
struct RegistryChanges {
  /// Service ids now in `services` that were not before.
  std::vector<std::string> added;
  /// Service ids whose entry in `services` differs (backend data or health).
  std::vector<std::string> changed;
  /// Service ids no longer in `services`.
  std::vector<std::string> removed;
  /// Endpoints that appeared in or left `services` (by id and url; a
  /// service's other fields and health show in `changed` only).
  std::vector<endpoint_key> endpoints_added;
  std::vector<endpoint_key> endpoints_removed;

  /// Whether no service changed (the version may still move: `stale`).
  bool empty() const {
    return added.empty() && changed.empty() && removed.empty();
  }
};

/// One published state of the registry. Never modified after publication.
struct RegistrySnapshot {
  /// Increases by one for every published change; 0 before the first sync.
  uint64_t version = 0;
  /// Every known service, endpoint health merged, service health derived.
  /// Unchanged services are shared with the snapshots before and after.
  ServiceTable services;
  /// The routable view of `services` (see routable_view()).
  ServiceTable healthy;
  /// True while the backend is unreachable and `services` is last-known data.
  bool stale = false;
  /// Increases when the backend's data changed (services or endpoints added,
  /// removed or edited); health changes alone leave it as it is.
  uint64_t backend_generation = 0;
  /// What changed since version - 1.
  RegistryChanges changes;
};

using SnapshotPtr = std::shared_ptr<const RegistrySnapshot>;

} // namespace orasi
