// What a caller of the control-plane client (net/control_client.hpp) sends
// and gets back. No Asio nor Beast here: the backend actors include this.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orasi::net {

/// Header fields in the order they were sent or received.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Why a request ended without a (complete) response; `none` when a
/// response arrived, whatever its status.
enum class request_failure : uint8_t {
  none,
  cancelled,          // cancel(), stop(), or the client had stopped
  invalid_request,    // unknown method, https (not supported yet)
  resolve_failed,     // the host name has no address (or may not be looked up)
  connect_failed,     // refused, unreachable
  timeout,            // the deadline passed, wherever the request was
  connection_lost,    // reset or closed before the response was complete
  malformed_response, // not an HTTP/1.x response
  body_too_large,     // over http_request::body_limit
};

/// "timeout", "connect_failed", ...
const char* to_string(request_failure failure);

struct http_request {
  std::string method = "GET";
  std::string host; // an IP literal or a name
  uint16_t port = 80;
  bool tls = false; // https: refused as invalid_request until TLS lands
  std::string target = "/";
  header_list headers; // Host and Content-Length are set by the client
  std::string body;
  /// From submission to the complete response (to the response head for a
  /// stream): waiting for a connection, connecting, sending, receiving.
  std::chrono::milliseconds timeout{10'000};
  /// Bounds a buffered body; a stream's pieces are not bounded.
  size_t body_limit = 16 * 1024 * 1024;
  /// Whether the request may go a second time when a reused connection
  /// fails before any byte of the answer: the server may have applied it
  /// and closed before answering. Idempotent methods (GET, HEAD, PUT,
  /// DELETE, OPTIONS) always may; a POST only if it says so (an etcd range
  /// read may, a lease grant must not: a second lease would leak).
  bool replayable = false;
};

/// The request may be sent again after a failure without a response.
bool may_replay(const http_request& request);

struct http_response {
  request_failure failure = request_failure::none;
  std::string detail; // what failed and where, for failures
  unsigned status = 0;
  header_list headers;
  std::string body; // empty for a stream (its pieces went to on_data)

  bool ok() const { return failure == request_failure::none; }

  /// The first field named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
};

/// Called once per request, on the client's loop thread.
using response_handler = std::function<void(http_response)>;

/// A streamed response: its body goes to `on_data` piece by piece as it
/// arrives (an etcd watch is one endless response). All on the loop thread.
struct stream_handlers {
  /// Status and headers, once, before any piece.
  std::function<void(const http_response&)> on_head;
  /// Each piece of body as it arrives, in order.
  std::function<void(std::string_view)> on_data;
  /// Exactly once: the response ended (ok(), empty body) or the failure.
  response_handler on_end;
};

} // namespace orasi::net
