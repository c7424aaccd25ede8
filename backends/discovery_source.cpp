#include "backends/discovery_source.hpp"

namespace orasi::backends {

discovery_source::~discovery_source() = default;

caf::expected<source_listing> discovery_source::reload() {
  return list();
}

void discovery_source::set_change_listener(std::function<void()>) {
  // Sources without push are polled on the caller's timer.
}

void discovery_source::suspend() {
  // Nothing runs in the background by default.
}

source_counters discovery_source::counters() const {
  return {};
}

} // namespace orasi::backends
