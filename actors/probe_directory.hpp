// The supervisor's probes: one actor per endpoint, found by the endpoint
// when the registry changes and by the actor's id when an outcome arrives
// (outcomes carry their probe's id). The id index lets the supervisor take
// thousands of outcomes a second without comparing URLs in a tree, and
// tells at once whether an outcome comes from the current probe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>

#include "actors/probe.hpp"
#include "messages/snapshot.hpp"

namespace orasi {

class probe_directory {
public:
  using map_type = std::map<endpoint_key, probe_actor>;
  using iterator = map_type::iterator;

  iterator begin() { return by_key_.begin(); }
  iterator end() { return by_key_.end(); }
  size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }

  iterator find(const endpoint_key& key) { return by_key_.find(key); }
  size_t count(const endpoint_key& key) const { return by_key_.count(key); }

  /// Adds `probe` for `key` unless the endpoint has one already.
  void emplace(const endpoint_key& key, probe_actor probe) {
    auto [entry, added] = by_key_.emplace(key, std::move(probe));
    if (added)
      by_id_.emplace(entry->second.id(), entry);
  }

  iterator erase(iterator entry) {
    by_id_.erase(entry->second.id());
    return by_key_.erase(entry);
  }

  void clear() {
    by_id_.clear();
    by_key_.clear();
  }

  /// The endpoint whose current probe has `probe_id`, or null (a probe
  /// that was stopped or replaced).
  const endpoint_key* endpoint_of(uint64_t probe_id) const {
    auto entry = by_id_.find(probe_id);
    return entry == by_id_.end() ? nullptr : &entry->second->first;
  }

private:
  map_type by_key_;
  std::unordered_map<uint64_t, iterator> by_id_;
};

} // namespace orasi
