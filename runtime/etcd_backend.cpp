#include "runtime/etcd_backend.hpp"

#include "backends/etcd_source.hpp"
#include "runtime/backend_calls.hpp"
#include "runtime/config/gateway_error.hpp"

namespace orasi {

backends::etcd_source_options
etcd_source_options_from(const ServiceDiscoveryConfig& sd) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  backends::etcd_source_options options;
  options.prefix = sd.prefix;
  options.lease_ttl = duration_cast<std::chrono::seconds>(sd.etcd.lease_ttl);
  options.watch = sd.etcd.watch;
  auto& client = options.client;
  client.endpoints = sd.endpoints;
  client.username = sd.etcd.username;
  client.password = sd.etcd.password;
  client.ca_file = sd.etcd.ca_file;
  client.cert_file = sd.etcd.cert_file;
  client.key_file = sd.etcd.key_file;
  client.dial_timeout = duration_cast<milliseconds>(sd.etcd.dial_timeout);
  client.request_timeout = duration_cast<milliseconds>(sd.etcd.request_timeout);
  client.max_response_bytes = sd.limits.max_response_bytes;
  return options;
}

EtcdBackend::EtcdBackend(std::vector<std::string> endpoints, std::string prefix,
                         EtcdConfig settings)
    : endpoints_(std::move(endpoints)),
      prefix_(std::move(prefix)),
      settings_(std::move(settings)) {
  GatewayConfig config;
  configure(config);
  config.validate(); // the same checks as a config file gets
  auto options = etcd_source_options_from(config.service_discovery);
  options.watch = false; // nobody polls: reads are listings
  source_ = std::make_unique<backends::etcd_source>(std::move(options));
}

EtcdBackend::~EtcdBackend() = default;

ServiceMap EtcdBackend::discover_services() {
  return detail::discover_or_throw(*source_);
}

void EtcdBackend::register_service(const std::string& id,
                                   const ServiceInfo& info) {
  detail::register_or_throw(*source_, id, info);
}

void EtcdBackend::deregister_service(const std::string& id) {
  detail::deregister_or_throw(*source_, id);
}

void EtcdBackend::configure(GatewayConfig& config) const {
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Etcd;
  sd.endpoints = endpoints_;
  sd.prefix = prefix_;
  sd.etcd = settings_;
}

} // namespace orasi
