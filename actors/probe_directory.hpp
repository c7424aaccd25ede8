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

struct tracked_endpoint; // the supervisor's threshold state of an endpoint

class probe_directory {
public:
  using map_type = std::map<endpoint_key, probe_actor>;
  using iterator = map_type::iterator;

  probe_directory() = default;
  // The id index holds iterators into by_key_: a copy's would point into
  // the original. Moving keeps them valid.
  probe_directory(const probe_directory&) = delete;
  probe_directory& operator=(const probe_directory&) = delete;
  probe_directory(probe_directory&&) = default;
  probe_directory& operator=(probe_directory&&) = default;

  iterator begin() { return by_key_.begin(); }
  iterator end() { return by_key_.end(); }
  size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }

  iterator find(const endpoint_key& key) { return by_key_.find(key); }
  size_t count(const endpoint_key& key) const { return by_key_.count(key); }

  /// Adds `probe` for `key` unless the endpoint has one already.
  /// What the id index holds for a probe: its endpoint and, once known,
  /// the endpoint's tracker in the supervisor (a cache: the supervisor
  /// clears it whenever it erases trackers, see forget_tracker()).
  struct indexed {
    iterator entry;
    tracked_endpoint* tracker = nullptr;
    const endpoint_key& key() const { return entry->first; }
  };

  void emplace(const endpoint_key& key, probe_actor probe) {
    auto [entry, added] = by_key_.emplace(key, std::move(probe));
    if (added)
      by_id_.emplace(entry->second.id(), indexed{entry});
  }

  iterator erase(iterator entry) {
    by_id_.erase(entry->second.id());
    return by_key_.erase(entry);
  }

  void clear() {
    by_id_.clear();
    by_key_.clear();
  }

  /// The current probe with `probe_id`, or null (a probe that was stopped
  /// or replaced).
  indexed* find_id(uint64_t probe_id) {
    auto entry = by_id_.find(probe_id);
    return entry == by_id_.end() ? nullptr : &entry->second;
  }

  /// The tracker of `key` is being erased: no cached pointer may outlive it.
  void forget_tracker(const endpoint_key& key) {
    if (auto entry = by_key_.find(key); entry != by_key_.end())
      if (auto* probe = find_id(entry->second.id()))
        probe->tracker = nullptr;
  }

  /// Every tracker is being erased.
  void forget_trackers() {
    for (auto& entry : by_id_)
      entry.second.tracker = nullptr;
  }

private:
  map_type by_key_;
  std::unordered_map<uint64_t, indexed> by_id_;
};

} // namespace orasi
