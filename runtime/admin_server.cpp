#include "runtime/admin_server.hpp"

#include <boost/json.hpp>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "messages/json_codec.hpp"
#include "runtime/service_discovery.hpp"

namespace json = boost::json;

namespace orasi {

namespace {

void send_json(httplib::Response& res, int status, const json::value& body,
               uint64_t version) {
  res.status = status;
  res.set_header("X-Orasi-Index", std::to_string(version));
  res.set_content(json::serialize(body) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& kind,
                const std::string& message, uint64_t version) {
  send_json(res, status, json::object{{"error", message}, {"kind", kind}},
            version);
}

void serve_healthz(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  bool running = false;
  try {
    running = discovery.is_running();
  } catch (const GatewayError&) {
    running = false;
  }
  json::object body{{"status", running ? "ok" : "unavailable"},
                    {"running", running},
                    {"version", snapshot->version},
                    {"stale", snapshot->stale},
                    {"services", snapshot->services.size()},
                    {"routable_services", snapshot->healthy.size()}};
  send_json(res, running ? 200 : 503, body, snapshot->version);
}

/// The health-check counters as JSON (a Prometheus rendering belongs to the
/// operator surface).
void serve_metrics(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  auto metrics = discovery.probe_metrics();
  json::object failed;
  for (const auto& [reason, count] : metrics.attempts_failed)
    failed[reason] = count;
  size_t endpoints = 0;
  for (const auto& [id, service] : snapshot->services)
    endpoints += service.endpoints.size();
  json::object probes{
      {"enabled", discovery.config().service_discovery.health_check.enabled},
      {"active_probes", metrics.active_probes},
      {"attempts_sent", metrics.attempts_sent},
      {"attempts_passed", metrics.attempts_passed},
      {"attempts_failed", std::move(failed)},
      {"checks_passed", metrics.checks_passed},
      {"checks_failed", metrics.checks_failed},
      {"checks_degraded", metrics.checks_degraded},
      {"transitions", metrics.transitions}};
  json::object registry{{"version", snapshot->version},
                        {"stale", snapshot->stale},
                        {"services", snapshot->services.size()},
                        {"endpoints", endpoints},
                        {"routable_services", snapshot->healthy.size()}};
  auto backend_metrics = discovery.backend_metrics();
  json::object backend{{"type", backend_metrics.backend},
                       {"stale", backend_metrics.stale},
                       {"unreadable_values", backend_metrics.unreadable_values},
                       {"reconnects", backend_metrics.reconnects},
                       {"relists", backend_metrics.relists},
                       {"lease_regrants", backend_metrics.lease_regrants}};
  send_json(res, 200,
            json::object{{"probes", std::move(probes)},
                         {"registry", std::move(registry)},
                         {"backend", std::move(backend)}},
            snapshot->version);
}

} // namespace

struct AdminServer::routes {
  httplib::Server http;
};

AdminServer::AdminServer(ServiceDiscovery& discovery, std::string listen)
    : discovery_(discovery), listen_(std::move(listen)) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start() {
  std::string host;
  if (!parse_listen_address(listen_, host, port_))
    throw GatewayError{errc::config_invalid,
                       "admin.listen: \"" + listen_ + "\" is not host:port"};
  server_ = std::make_unique<routes>();
  auto& http = server_->http;
  auto& discovery = discovery_;
  http.Get("/v1/services", [&discovery](const httplib::Request&,
                                        httplib::Response& res) {
    auto snapshot = discovery.snapshot();
    send_json(res, 200, to_json(snapshot->services), snapshot->version);
  });
  http.Get("/v1/services/([^/]+)", [&discovery](const httplib::Request& req,
                                                httplib::Response& res) {
    auto snapshot = discovery.snapshot();
    auto id = req.matches[1].str();
    auto service = snapshot->services.find(id);
    if (service == snapshot->services.end())
      return send_error(res, 404, "not_found",
                        "service \"" + id + "\" not found", snapshot->version);
    send_json(res, 200, to_json(service->second), snapshot->version);
  });
  http.Get("/v1/health/services",
           [&discovery](const httplib::Request&, httplib::Response& res) {
             auto snapshot = discovery.snapshot();
             send_json(res, 200, to_json(snapshot->healthy), snapshot->version);
           });
  http.Get("/v1/metrics",
           [&discovery](const httplib::Request&, httplib::Response& res) {
             serve_metrics(discovery, res);
           });
  http.Get("/healthz",
           [&discovery](const httplib::Request&, httplib::Response& res) {
             serve_healthz(discovery, res);
           });
  auto method_not_allowed = [&discovery](const httplib::Request& req,
                                         httplib::Response& res) {
    res.set_header("Allow", "GET");
    send_error(res, 405, "method_not_allowed",
               req.method + " is not supported on " + req.path +
                   " (the admin API is read-only)",
               discovery.snapshot()->version);
  };
  http.Post(".*", method_not_allowed);
  http.Put(".*", method_not_allowed);
  http.Delete(".*", method_not_allowed);
  http.Patch(".*", method_not_allowed);
  http.set_error_handler(
      [&discovery](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return; // our own error body
        send_error(res, res.status, res.status == 404 ? "not_found" : "error",
                   "no route for " + req.method + " " + req.path,
                   discovery.snapshot()->version);
      });
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // launcher share our port silently; SO_REUSEADDR alone allows quick
  // restarts but makes "address in use" a startup error, as it should be.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_read_timeout(std::chrono::seconds(5));
  // stop() waits for idle keep-alive connections (our own probes keep one
  // to /healthz open): a short idle timeout keeps shutdown prompt.
  http.set_keep_alive_timeout(1);
  http.set_write_timeout(std::chrono::seconds(5));
  http.set_payload_max_length(64 * 1024);
  if (port_ == 0) {
    auto bound = http.bind_to_any_port(host);
    if (bound < 0)
      throw GatewayError{errc::config_invalid,
                         "admin.listen: cannot bind " + listen_};
    port_ = static_cast<uint16_t>(bound);
  } else if (!http.bind_to_port(host, port_)) {
    throw GatewayError{errc::config_invalid,
                       "admin.listen: cannot bind " + listen_ +
                           " (address in use or not local?)"};
  }
  auto loop_ended = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread{[this, loop_ended] {
    server_->http.listen_after_bind();
    *loop_ended = true;
  }};
  // httplib's stop() is a no-op until the loop runs: wait for it, so that a
  // stop() right after start() cannot leave the thread listening forever.
  while (!server_->http.is_running() && !*loop_ended)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("admin API listening on http://{}:{}", host, port_);
}

void AdminServer::stop() {
  if (!server_)
    return;
  server_->http.stop();
  if (thread_.joinable())
    thread_.join();
  server_.reset();
}

} // namespace orasi
