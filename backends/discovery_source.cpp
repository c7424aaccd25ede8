#include "backends/discovery_source.hpp"

namespace orasi::backends {

discovery_source::~discovery_source() = default;

caf::expected<source_listing> discovery_source::reload() {
  return list();
}

} // namespace orasi::backends
