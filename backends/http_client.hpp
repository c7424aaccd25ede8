// One cpp-httplib client to a backend server (etcd member, Consul agent),
// set up the same way for every backend: timeouts, keep-alive, no Nagle
// delay, https always verified.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace httplib {
class Client;
} // namespace httplib

namespace orasi::backends {

struct http_client_settings {
  std::chrono::milliseconds dial_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  std::string ca_file;   // https: verify against it (default: system CAs)
  std::string cert_file; // optional client certificate (with key_file)
  std::string key_file;
};

/// Throws what httplib throws for a URL it cannot take (callers build their
/// clients up front, so that this happens at construction).
std::unique_ptr<httplib::Client>
make_http_client(const std::string& url, const http_client_settings& settings);

} // namespace orasi::backends
