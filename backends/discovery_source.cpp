#include "backends/discovery_source.hpp"

namespace orasi::backends {

discovery_source::~discovery_source() = default;

} // namespace orasi::backends
