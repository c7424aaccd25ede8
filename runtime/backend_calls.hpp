// The blocking calls EtcdBackend and ConsulBackend share: a source's
// listing, write and removal, with errors thrown as GatewayError.
#pragma once

#include <string>

#include "backends/discovery_source.hpp"
#include "messages/service_info.hpp"

namespace orasi::detail {

ServiceMap discover_or_throw(backends::discovery_source& source);

/// Validates like the facade does, then writes.
void register_or_throw(backends::discovery_source& source,
                       const std::string& id, const ServiceInfo& info);

void deregister_or_throw(backends::discovery_source& source,
                         const std::string& id);

} // namespace orasi::detail
