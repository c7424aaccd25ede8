// One cpp-httplib client to a backend server (etcd member, Consul agent),
// set up the same way for every backend: timeouts, keep-alive, no Nagle
// delay, https always verified.
#pragma once

#include <chrono>
#include <cstddef>
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

/// A response body of at most `limit` bytes (service_discovery.limits.
/// max_response_bytes), fed by a request's content_receiver: append()
/// returns false, which makes httplib cut the response off, once the body
/// would grow past the limit.
struct bounded_body {
  explicit bounded_body(size_t max_bytes) : limit(max_bytes) {}
  bool append(const char* data, size_t size) {
    too_large = body.size() + size > limit;
    if (!too_large)
      body.append(data, size);
    return !too_large;
  }

  size_t limit;
  std::string body;
  bool too_large = false;
};

/// "response over service_discovery.limits.max_response_bytes (N bytes)".
std::string response_over_limit(size_t limit);

} // namespace orasi::backends
