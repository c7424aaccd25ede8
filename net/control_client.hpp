// The control-plane HTTP client: async HTTP/1.1 requests on an event loop
// and thread of its own (separate from the probe engine's), keep-alive
// connections bounded per host:port, buffered or streamed responses. The
// etcd and Consul backend actors do their I/O on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/http_message.hpp"

namespace orasi::net {

struct control_client_options {
  /// Connections open at once to one host:port (streams included); further
  /// requests wait for one in arrival order. Consul closes connections past
  /// its per-client cap, so the bound keeps many followed services on a
  /// few connections.
  size_t max_connections_per_host = 8;
};

/// Names one request for cancel(); never 0.
using request_id = uint64_t;

/// Thread-safe; every call but stop() only posts to the loop. Handlers run
/// on the loop thread, exactly once per request, and must not block.
class control_client {
public:
  explicit control_client(control_client_options options = {});

  /// stop()s.
  ~control_client();

  control_client(const control_client&) = delete;
  control_client& operator=(const control_client&) = delete;

  /// Sends `request`; `done` gets the whole response or the failure. After
  /// stop(), `done` runs at once on the caller's thread with `cancelled`.
  request_id request(http_request request, response_handler done);

  /// Sends `request` and hands its body over piece by piece; the deadline
  /// covers the request until the response head. After stop(), `on_end`
  /// runs at once on the caller's thread with `cancelled`.
  request_id stream(http_request request, stream_handlers handlers);

  /// Ends the request (or stream) with `cancelled` and closes its
  /// connection, unless it ended already.
  void cancel(request_id id);

  /// Ends every outstanding request with `cancelled`, closes every
  /// connection and joins the loop thread, without waiting for any server.
  /// Idempotent. Not from a handler: it joins the loop thread.
  void stop();

  /// Connections opened so far, and open right now (idle ones included).
  size_t connections_opened() const;
  size_t open_connections() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace orasi::net
