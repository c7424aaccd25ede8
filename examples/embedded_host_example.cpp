// Embedding orasi-discovery in a host's actor system: a host actor
// subscribes and receives (changed_atom, SnapshotPtr) once per version.
#include <chrono>
#include <future>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "messages/actor_messages.hpp"
#include "messages/type_registration.hpp"
#include "runtime/service_discovery.hpp"

namespace {

/// A host actor that logs every new picture of the services and fulfils
/// `seen_web` once it sees the "web-1" service.
caf::behavior route_table(caf::event_based_actor*,
                          std::shared_ptr<std::promise<void>> seen_web) {
  return {
      [seen_web](orasi::changed_atom,
                 const orasi::SnapshotPtr& snapshot) mutable {
        std::cout << "route table v" << snapshot->version << ": "
                  << snapshot->healthy.size() << " routable of "
                  << snapshot->services.size() << " services\n";
        if (snapshot->healthy.count("web-1") == 1 && seen_web) {
          seen_web->set_value();
          seen_web.reset();
        }
      },
  };
}

} // namespace

int main() {
  caf::actor_system_config host_config;
  orasi::add_message_types(host_config); // our messages print by name
  caf::actor_system host{host_config};
  orasi::GatewayConfig config;
  config.service_discovery.health_check.enabled = false; // see below
  orasi::ServiceDiscovery discovery{host, config};
  discovery.start();

  auto seen_web = std::make_shared<std::promise<void>>();
  auto done = seen_web->get_future();
  auto table = host.spawn(route_table, seen_web);
  discovery.subscribe(table);

  // Declared Healthy; nothing listens there, so probes are off above.
  orasi::ServiceInfo web;
  web.name = "web";
  web.endpoints.push_back(orasi::ServiceEndpoint{
      "http://127.0.0.1:8080", 1, orasi::EndpointHealthStatus::Healthy, {}});
  discovery.register_service("web-1", web);

  auto status = done.wait_for(std::chrono::seconds(10));
  discovery.stop();
  caf::anon_send_exit(table, caf::exit_reason::user_shutdown);
  if (status != std::future_status::ready) {
    std::cerr << "the host actor never saw web-1\n";
    return 1;
  }
  std::cout << "host actor saw web-1\n";
  return 0;
}
