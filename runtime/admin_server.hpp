// The launcher's read-only admin API (cpp-httplib on its own threads):
//   GET /v1/services          {"<id>": ServiceInfo, ...}
//   GET /v1/services/{id}     ServiceInfo, or 404 {"error": ...}
//   GET /v1/health/services   the routable view, same shape as /v1/services
//   GET /healthz              {"status": "ok"|"unavailable", ...}
// Responses carry the registry version in an X-Orasi-Index header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace orasi {

class ServiceDiscovery;

class AdminServer {
public:
  /// `listen` is "host:port"; port 0 picks a free port (see port()).
  AdminServer(ServiceDiscovery& discovery, std::string listen);
  ~AdminServer();

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Binds and starts serving. Throws GatewayError (config_invalid) naming
  /// admin.listen if the address cannot be bound.
  void start();

  /// Stops serving and joins the server thread. Idempotent.
  void stop();

  /// The bound port (after start()).
  uint16_t port() const { return port_; }

private:
  struct routes;
  ServiceDiscovery& discovery_;
  std::string listen_;
  uint16_t port_ = 0;
  std::unique_ptr<routes> server_;
  std::thread thread_;
};

} // namespace orasi
