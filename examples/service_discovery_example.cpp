// The spec's "Basic Usage": start service discovery on the static backend,
// register a service, read all and the healthy services, stop.
#include <iostream>

#include "messages/json_codec.hpp"
#include "runtime/service_discovery.hpp"

int main() {
  using namespace orasi;
  try {
    // Create configuration
    GatewayConfig config;
    config.service_discovery.backend = ServiceDiscoveryBackend::Static;
    // Nothing listens on the example's endpoint: trust its declared health
    // instead of probing it (probes would find it Unhealthy).
    config.service_discovery.health_check.enabled = false;

    // Initialize service discovery
    ServiceDiscovery service_discovery{config};
    service_discovery.start();

    // Register a service
    ServiceInfo service;
    service.name = "my-service";
    service.endpoints.push_back(ServiceEndpoint{
        "http://localhost:8080", 1, EndpointHealthStatus::Healthy, {}});
    service.health_status = ServiceHealthStatus::Healthy;
    service_discovery.register_service("my-service-1", service);

    // Get services
    auto services = service_discovery.get_services();
    auto healthy_services = service_discovery.get_healthy_services();
    std::cout << "services: " << encode(services) << "\n"
              << "healthy services: " << encode(healthy_services) << "\n";

    // Stop service discovery
    service_discovery.stop();
    // Exit 0 only if the registered service is routable.
    return healthy_services.count("my-service-1") == 1 ? 0 : 1;
  } catch (const GatewayError& err) {
    std::cerr << "error: " << err.what() << "\n";
    return 1;
  }
}
