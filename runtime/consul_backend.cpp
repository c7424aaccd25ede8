#include "runtime/consul_backend.hpp"

#include "backends/consul_source.hpp"
#include "runtime/backend_calls.hpp"

namespace orasi {

backends::consul_source_options
consul_source_options_from(const ServiceDiscoveryConfig& sd) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  backends::consul_source_options options;
  auto& client = options.client;
  client.agents = sd.endpoints;
  client.datacenter = sd.consul.datacenter;
  client.token = sd.consul.token;
  client.ca_file = sd.consul.ca_file;
  client.dial_timeout = duration_cast<milliseconds>(sd.consul.dial_timeout);
  client.request_timeout =
      duration_cast<milliseconds>(sd.consul.request_timeout);
  client.max_response_bytes = sd.limits.max_response_bytes;
  options.service_prefix = sd.consul.service_prefix;
  options.wait = duration_cast<milliseconds>(sd.consul.wait);
  const auto& hc = sd.health_check;
  options.check.path = hc.health_check_path;
  options.check.interval =
      duration_cast<milliseconds>(sd.effective_health_check_interval());
  options.check.timeout = duration_cast<milliseconds>(hc.timeout);
  options.check.deregister_critical_after =
      duration_cast<milliseconds>(sd.consul.deregister_critical_after);
  return options;
}

ConsulBackend::ConsulBackend(std::string datacenter,
                             std::optional<std::string> token,
                             std::string agent, ConsulConfig settings)
    : agent_(std::move(agent)), settings_(std::move(settings)) {
  settings_.datacenter = std::move(datacenter);
  settings_.token = token.value_or("");
  GatewayConfig config;
  configure(config);
  config.validate();
  auto options = consul_source_options_from(config.service_discovery);
  options.watch = false; // nobody polls: reads are listings
  source_ = std::make_unique<backends::consul_source>(std::move(options));
}

ConsulBackend::~ConsulBackend() = default;

ServiceMap ConsulBackend::discover_services() {
  return detail::discover_or_throw(*source_);
}

void ConsulBackend::register_service(const std::string& id,
                                     const ServiceInfo& info) {
  detail::register_or_throw(*source_, id, info);
}

void ConsulBackend::deregister_service(const std::string& id) {
  detail::deregister_or_throw(*source_, id);
}

void ConsulBackend::configure(GatewayConfig& config) const {
  auto& sd = config.service_discovery;
  sd.backend = ServiceDiscoveryBackend::Consul;
  sd.endpoints = {agent_};
  sd.consul = settings_;
}

} // namespace orasi
