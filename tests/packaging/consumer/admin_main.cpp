// A host program with the admin HTTP API (orasi::admin): serves it on a free
// loopback port, then stops. Exits 0 if the server got a port. Built, like
// main.cpp, where every CAF header is an #error (CMakeLists.txt).
#include <iostream>

#include "admin/admin_server.hpp"
#include "runtime/service_discovery.hpp"

int main() {
  using namespace orasi;
  try {
    GatewayConfig config;
    config.service_discovery.health_check.enabled = false;
    ServiceDiscovery discovery{config};
    discovery.start();
    AdminServer admin{discovery, "127.0.0.1:0"};
    admin.start();
    auto port = admin.port();
    admin.stop();
    discovery.stop();
    if (port == 0) {
      std::cerr << "consumer_admin: no port\n";
      return 1;
    }
    std::cout << "consumer_admin: ok, admin API was on port " << port << "\n";
    return 0;
  } catch (const GatewayError& err) {
    std::cerr << "consumer_admin: " << err.what() << "\n";
    return 1;
  }
}
