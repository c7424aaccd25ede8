#include "backends/http_client.hpp"

#include <stdexcept>

#include <httplib.h>

#include "backends/loopback_guard.hpp"

namespace orasi::backends {

namespace {

/// The host of "scheme://host[:port][/...]" ("[::1]" without brackets),
/// as httplib reads it: a bracketed host of anything but digits and colons
/// (e.g. "[::ffff:127.0.0.1]") makes httplib look the whole URL up as a
/// name, so it is returned whole and refused.
std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  if (start < url.size() && url[start] == '[') {
    auto close = url.find(']', start);
    auto host = url.substr(start + 1, close - start - 1);
    if (close == std::string::npos ||
        host.find_first_not_of("0123456789:") != std::string::npos)
      return url;
    return host;
  }
  auto end = url.find_first_of(":/", start);
  return url.substr(start, end == std::string::npos ? end : end - start);
}

/// The test network guard (backends/loopback_guard.hpp): a backend off
/// loopback is refused before any client exists.
void check_loopback_guard(const std::string& url) {
  auto host = host_of(url);
  if (!loopback_guard::allows_lookup(host) ||
      (host != "localhost" && !loopback_guard::allows_address(host))) {
    loopback_guard::refuse("backend client for " + url);
    throw std::invalid_argument(std::string{loopback_guard::refusal_marker} +
                                ": " + url);
  }
}

} // namespace

std::unique_ptr<httplib::Client>
make_http_client(const std::string& url, const http_client_settings& settings) {
  if (loopback_guard::enabled())
    check_loopback_guard(url);
  auto client = settings.cert_file.empty()
                    ? std::make_unique<httplib::Client>(url)
                    : std::make_unique<httplib::Client>(url, settings.cert_file,
                                                        settings.key_file);
  client->set_connection_timeout(settings.dial_timeout);
  client->set_read_timeout(settings.request_timeout);
  client->set_write_timeout(settings.request_timeout);
  client->set_keep_alive(true);
  // httplib writes headers and body separately: without this the body
  // waits for the server's delayed ACK on every request (bench/RESULTS.md).
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
