// What changed between versions of the registry, for readers that hold an
// older version (the admin API's watch with ?changes=1): they are sent the
// services that changed instead of all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "messages/service_info.hpp"
#include "messages/snapshot.hpp"

namespace orasi {

/// What turns one ServiceMap into another.
struct ServiceMapDiff {
  std::vector<std::string> changed; // added or different, in id order
  std::vector<std::string> removed; // in id order
};

/// Compares the two maps in one ordered pass: O(size of both).
ServiceMapDiff diff_services(const ServiceMap& before, const ServiceMap& after);

/// The ids that changed at each of the last `capacity` versions. Holds the
/// last recorded snapshot only (the current one, alive anyway), not the
/// older ones.
class registry_changes {
public:
  explicit registry_changes(size_t capacity) : capacity_(capacity) {}

  /// Records the next version from its change set: O(change). A version
  /// that does not follow the last one starts over.
  void record(const SnapshotPtr& next);

  /// Forgets everything.
  void clear();

  /// The last recorded version (0: none).
  uint64_t last_version() const;

  /// The ids added, changed or removed after version `from` up to the last
  /// recorded one, sorted, or nothing if a step in between is not kept.
  std::optional<std::vector<std::string>> since(uint64_t from) const;

private:
  size_t capacity_;
  SnapshotPtr last_;
  // (version reached, ids that differ from the version before), oldest first.
  std::deque<std::pair<uint64_t, std::vector<std::string>>> steps_;
};

} // namespace orasi
