// The connections of the control-plane client to one host:port: at most
// `max_open` of them, idle ones kept for reuse, and the requests waiting
// for one in arrival order. Internal to the client; loop thread only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "net/connection.hpp"

namespace orasi::net {

class host_pool {
public:
  explicit host_pool(size_t max_open) : max_open_(max_open) {}

  /// The counter every connection of this host counts itself in.
  size_t& open_counter() { return open_; }

  /// Whether one more connection stays within the bound.
  bool may_open() const { return open_ < max_open_; }

  /// The most recently parked live connection, or null.
  connection_ptr take_idle() {
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->closed())
        return conn;
    }
    return nullptr;
  }

  void park(connection_ptr conn) { idle_.push_back(std::move(conn)); }

  /// Removes `conn` from the idle ones; false if it was not idle.
  bool forget_idle(const connection_ptr& conn) {
    auto found = std::find(idle_.begin(), idle_.end(), conn);
    if (found == idle_.end())
      return false;
    idle_.erase(found);
    return true;
  }

  void close_idle() {
    for (auto& conn : idle_)
      conn->close();
    idle_.clear();
  }

  /// Ids of the requests waiting for a connection, first come first.
  std::deque<uint64_t> waiting;

private:
  size_t max_open_;
  size_t open_ = 0; // connections open or connecting, idle ones included
  std::vector<connection_ptr> idle_;
};

} // namespace orasi::net
