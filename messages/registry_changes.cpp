#include "messages/registry_changes.hpp"

#include <algorithm>

namespace orasi {

ServiceMapDiff diff_services(const ServiceMap& before,
                             const ServiceMap& after) {
  ServiceMapDiff out;
  auto old = before.begin();
  auto now = after.begin();
  // Both maps are ordered by id: walk them side by side.
  while (old != before.end() || now != after.end()) {
    if (now == after.end() ||
        (old != before.end() && old->first < now->first)) {
      out.removed.push_back(old->first);
      ++old;
    } else if (old == before.end() || now->first < old->first) {
      out.changed.push_back(now->first);
      ++now;
    } else {
      if (!(old->second == now->second))
        out.changed.push_back(now->first);
      ++old;
      ++now;
    }
  }
  return out;
}

void registry_changes::record(const SnapshotPtr& next) {
  if (last_ && next->version == last_->version + 1) {
    const auto& changes = next->changes;
    std::vector<std::string> ids;
    ids.reserve(changes.added.size() + changes.changed.size() +
                changes.removed.size());
    for (const auto* part :
         {&changes.added, &changes.changed, &changes.removed})
      ids.insert(ids.end(), part->begin(), part->end());
    std::sort(ids.begin(), ids.end());
    steps_.emplace_back(next->version, std::move(ids));
    while (steps_.size() > capacity_)
      steps_.pop_front();
  } else if (!last_ || next->version != last_->version) {
    steps_.clear();
  }
  last_ = next;
}

void registry_changes::clear() {
  last_.reset();
  steps_.clear();
}

uint64_t registry_changes::last_version() const {
  return last_ ? last_->version : 0;
}

std::optional<std::vector<std::string>>
registry_changes::since(uint64_t from) const {
  if (!last_ || from > last_->version)
    return std::nullopt;
  // Every step after `from` must be kept: the oldest kept step reaches
  // from + 1 or earlier (or nothing happened since).
  if (from < last_->version &&
      (steps_.empty() || steps_.front().first > from + 1))
    return std::nullopt;
  std::vector<std::string> ids;
  for (const auto& [version, changed] : steps_)
    if (version > from)
      ids.insert(ids.end(), changed.begin(), changed.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

} // namespace orasi
