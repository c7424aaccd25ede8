// The spec's ConsulBackend(datacenter, token): Consul as a service registry
// on its own, with blocking calls against an agent, and a way to point a
// GatewayConfig at it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/service_info.hpp"
#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"

namespace orasi {

namespace backends {
class consul_source;
struct consul_source_options;
} // namespace backends

/// The Consul source's settings for a config (service_discovery.endpoints =
/// the agents, consul, and the health check registrations get).
backends::consul_source_options
consul_source_options_from(const ServiceDiscoveryConfig& sd);

class ConsulBackend {
public:
  /// `datacenter`: empty for the agent's own; `token`: the ACL token, if
  /// any. The agent is `agent` (default the local one), settings from
  /// `settings`.
  ConsulBackend(std::string datacenter, std::optional<std::string> token,
                std::string agent = "http://127.0.0.1:8500",
                ConsulConfig settings = {});
  ~ConsulBackend(); // deregisters what this object registered

  ConsulBackend(const ConsulBackend&) = delete;
  ConsulBackend& operator=(const ConsulBackend&) = delete;

  /// Every selected service with its instances. Throws GatewayError.
  ServiceMap discover_services();
  /// Registers one agent service per endpoint. Throws GatewayError.
  void register_service(const std::string& id, const ServiceInfo& info);
  /// Throws GatewayError (not_found if nothing is registered under id).
  void deregister_service(const std::string& id);
  /// Points `config` at this backend (backend, endpoints, consul).
  void configure(GatewayConfig& config) const;

private:
  std::string agent_;
  ConsulConfig settings_;
  std::unique_ptr<backends::consul_source> source_;
};

} // namespace orasi
