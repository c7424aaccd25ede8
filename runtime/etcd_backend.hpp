// The spec's EtcdBackend(endpoints, prefix): etcd as a service registry on
// its own, with blocking calls, for tools and tests that want to read or
// write the registry without running discovery; and a way to point a
// GatewayConfig at it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "messages/service_info.hpp"
#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"

namespace orasi {

namespace backends {
class etcd_source;
struct etcd_source_options;
} // namespace backends

/// The etcd source's settings for a config (service_discovery.endpoints,
/// prefix and etcd). Used by ServiceDiscovery and EtcdBackend.
backends::etcd_source_options
etcd_source_options_from(const ServiceDiscoveryConfig& sd);

class EtcdBackend {
public:
  /// `endpoints`: member URLs ("http://host:2379"); `prefix`: services live
  /// at <prefix>/services/<id>. Connection settings from `settings`.
  EtcdBackend(std::vector<std::string> endpoints, std::string prefix = "/orasi",
              EtcdConfig settings = {});
  ~EtcdBackend(); // revokes the lease of this object's registrations

  EtcdBackend(const EtcdBackend&) = delete;
  EtcdBackend& operator=(const EtcdBackend&) = delete;

  /// Every readable service under the prefix. Throws GatewayError
  /// (backend_unavailable, backend_rejected).
  ServiceMap discover_services();

  /// Writes `info` under `id` on this object's lease (kept alive while the
  /// object lives). Throws GatewayError.
  void register_service(const std::string& id, const ServiceInfo& info);

  /// Deletes `id`; throws GatewayError (not_found if absent).
  void deregister_service(const std::string& id);

  /// Points `config` at this backend (backend, endpoints, prefix, etcd).
  void configure(GatewayConfig& config) const;

private:
  std::vector<std::string> endpoints_;
  std::string prefix_;
  EtcdConfig settings_;
  std::unique_ptr<backends::etcd_source> source_;
};

} // namespace orasi
