// A host program: one static service configured in code, health checks off;
// start, read the services, stop. Exits 0 if the service is there. It
// includes the facade only, and builds where every CAF header is an #error
// (CMakeLists.txt): the facade keeps CAF away from its hosts.
#include <iostream>

#include "runtime/service_discovery.hpp"

int main() {
  using namespace orasi;
  try {
    GatewayConfig config;
    config.service_discovery.backend = ServiceDiscoveryBackend::Static;
    config.service_discovery.health_check.enabled = false;
    config.service_discovery.services["a-1"] = ServiceInfo{
        "a",
        {ServiceEndpoint{
            "http://127.0.0.1:8080", 1, EndpointHealthStatus::Healthy, {}}},
        ServiceHealthStatus::Healthy,
        {}};

    ServiceDiscovery discovery{config};
    discovery.start();
    auto services = discovery.get_services();
    discovery.stop();

    if (services.size() != 1 || services.count("a-1") != 1) {
      std::cerr << "consumer: expected service a-1 only, got "
                << services.size() << " services\n";
      return 1;
    }
    std::cout << "consumer: ok, service a-1 with "
              << services.at("a-1").endpoints.size() << " endpoint(s)\n";
    return 0;
  } catch (const GatewayError& err) {
    std::cerr << "consumer: " << err.what() << "\n";
    return 1;
  }
}
