// The launcher's admin API (cpp-httplib on its own threads):
//   GET    /v1/services          {"<id>": ServiceInfo, ...}
//   GET    /v1/services/{id}     ServiceInfo, or 404 {"error": ...}
//   PUT    /v1/services/{id}     register (body: ServiceInfo JSON)
//   DELETE /v1/services/{id}     deregister
//   GET    /v1/health/services   the routable view, same shape as /v1/services
//   GET    /v1/watch?index=N&wait=30s   blocks until the version passes N
//   GET    /v1/metrics           counters as JSON
//   GET    /metrics              the same in Prometheus' text format
//   GET    /healthz, /readyz     liveness, readiness (first sync done)
// Responses carry the registry version in an X-Orasi-Index header. Writes
// need "Authorization: Bearer <token>" when a token is configured.
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
  /// `token`: required for writes when not empty.
  AdminServer(ServiceDiscovery& discovery, std::string listen,
              std::string token = {});
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
  void add_write_routes();
  void add_watch_route();
  ServiceDiscovery& discovery_;
  std::string listen_;
  std::string token_;
  uint16_t port_ = 0;
  std::unique_ptr<routes> server_;
  std::thread thread_;
};

} // namespace orasi
