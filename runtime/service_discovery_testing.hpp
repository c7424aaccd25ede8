// Tests only, not part of the spec's API: a ServiceDiscovery whose internals
// take test doubles, for tests of the facade's own behaviour that the spec's
// constructors cannot set up (a probe engine lookup that blocks, say).
// Hosts include runtime/service_discovery.hpp, never this header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/service_discovery.hpp"

namespace orasi::testing {

/// What a test may put into a ServiceDiscovery's internals.
struct facade_options {
  /// Given to the probe engine as http_prober_options::resolve_hook (see
  /// there): replaces getaddrinfo, called on a lookup thread, may block.
  std::function<std::vector<std::string>(const std::string& host)> resolve_hook;
};

struct facade_access {
  /// As ServiceDiscovery(host, config), with `options` applied. Throws
  /// GatewayError (config_invalid).
  static std::unique_ptr<ServiceDiscovery>
  embedded(caf::actor_system& host, const GatewayConfig& config,
           const facade_options& options);
};

} // namespace orasi::testing
