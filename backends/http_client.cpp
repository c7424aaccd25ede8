#include "backends/http_client.hpp"

#include <httplib.h>

namespace orasi::backends {

std::unique_ptr<httplib::Client>
make_http_client(const std::string& url, const http_client_settings& settings) {
  auto client = settings.cert_file.empty()
                    ? std::make_unique<httplib::Client>(url)
                    : std::make_unique<httplib::Client>(url, settings.cert_file,
                                                        settings.key_file);
  client->set_connection_timeout(settings.dial_timeout);
  client->set_read_timeout(settings.request_timeout);
  client->set_write_timeout(settings.request_timeout);
  client->set_keep_alive(true);
  // httplib writes headers and body separately: without this the body
  // waits for the server's delayed ACK, ~40 ms per request
  // (bench/RESULTS.md).
  client->set_tcp_nodelay(true);
  if (url.rfind("https://", 0) == 0) {
    if (!settings.ca_file.empty())
      client->set_ca_cert_path(settings.ca_file.c_str());
    client->enable_server_certificate_verification(true);
  }
  return client;
}

std::string response_over_limit(size_t limit) {
  return "response over service_discovery.limits.max_response_bytes (" +
         std::to_string(limit) + " bytes)";
}

} // namespace orasi::backends
