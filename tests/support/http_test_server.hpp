// A scripted HTTP/1.1 server for the prober's tests and benchmarks: one
// Asio event-loop thread on loopback that answers every request as its
// current behaviour says, including misbehaving on purpose. It needs no
// files and no external tools (its TLS certificate is made at start).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace orasi::test {

/// How the server answers a request.
enum class reply_kind : uint8_t {
  status,                 // `status` with `body` (and `location` when set)
  blackhole,              // read the request, never answer, keep the socket
  huge_body,              // 200 with `body_size` bytes, Content-Length set
  garbage_status_line,    // "HELLO\r\n\r\n", then close
  close_mid_response,     // headers promising 100 bytes, 10 bytes, close
  close_without_response, // read the request, then close
  echo,                   // 200, body "<method> <target>\n<request body>"
  chunked,                // 200, `chunks` one write each, chunked encoding
};

/// What the server does with each request; see the named constructors.
struct server_behavior {
  reply_kind reply = reply_kind::status;
  uint16_t status = 200;
  std::string body = "ok";
  std::string location;                // Location header when not empty
  std::chrono::milliseconds delay{0};  // waits this long before answering
  size_t body_size = 10 * 1024 * 1024; // huge_body only
  /// Closes, instead of answering, the second and later requests of a
  /// connection: a server that dropped a keep-alive connection just as the
  /// client reused it.
  bool drop_reused_connections = false;
  /// Sent just before a `status` reply, in the same write: raw interim
  /// responses such as "HTTP/1.1 103 Early Hints\r\n\r\n".
  std::string interim;
  /// Raw header lines ("X-Consul-Index: 7\r\n") added to a `status` or
  /// `echo` reply.
  std::string headers;
  /// chunked only: the body's chunks, written `chunk_interval` apart; the
  /// last-chunk follows unless `endless` (then the response stays open).
  std::vector<std::string> chunks;
  std::chrono::milliseconds chunk_interval{0};
  bool endless = false;

  static server_behavior answer(uint16_t status, std::string body = "ok");
  static server_behavior redirect(uint16_t status, std::string location);
  static server_behavior slow(std::chrono::milliseconds delay,
                              uint16_t status = 200);
  static server_behavior blackhole();
  static server_behavior huge_body(size_t size = 10 * 1024 * 1024);
  static server_behavior garbage_status_line();
  static server_behavior close_mid_response();
  static server_behavior close_without_response();
  /// `interim` (raw 1xx responses), then `status`.
  static server_behavior after_interim(std::string interim,
                                       uint16_t status = 200);
  static server_behavior echo();
  static server_behavior chunked(std::vector<std::string> chunks,
                                 bool endless = false,
                                 std::chrono::milliseconds interval = {});
};

struct http_test_server_options {
  server_behavior behavior;
  bool ipv6 = false; // listen on ::1 instead of 127.0.0.1
  bool tls = false;  // https, with a self-signed certificate made at start
  /// Keep the request-target and arrival time of every request (for
  /// measuring check intervals per endpoint).
  bool record_requests = false;
};

/// One request as the server saw it (record_requests only).
struct recorded_request {
  std::string target; // e.g. "/e17/health"
  std::chrono::steady_clock::time_point at;
};

/// Listens on a loopback port chosen by the kernel as soon as it is built;
/// throws std::system_error if it cannot bind. Handles thousands of
/// concurrent connections (one thread, all asynchronous).
class http_test_server {
public:
  explicit http_test_server(http_test_server_options options = {});
  ~http_test_server();

  http_test_server(const http_test_server&) = delete;
  http_test_server& operator=(const http_test_server&) = delete;

  uint16_t port() const;

  /// "127.0.0.1" or "::1".
  const std::string& host() const;

  /// Applies to every request read from now on. Thread-safe.
  void set_behavior(server_behavior behavior);

  /// Every request so far, in arrival order (record_requests only).
  std::vector<recorded_request> recorded_requests() const;

  size_t connections_accepted() const;
  size_t requests_received() const;

  /// Connections the server holds open right now.
  size_t open_connections() const;

  /// Closes every connection that waits for its next request, as a server
  /// does with idle keep-alive connections; returns once they are closed.
  /// `farewell` is written first if not empty (some servers send a 408
  /// Request Timeout before they close an idle connection).
  void close_idle_connections(const std::string& farewell = {});

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A loopback port nothing listens on (bound to port 0, read, closed), so
/// that connecting to it is refused.
uint16_t refused_port();

/// Whether ::1 can be bound here (containers often run without IPv6).
bool ipv6_loopback_available();

} // namespace orasi::test
