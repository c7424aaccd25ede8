// The prober engine: an HTTP/1.1 client (Boost.Asio/Beast, OpenSSL for
// https) on its own event-loop thread that multiplexes every in-flight probe
// attempt, so that no probe ever blocks a CAF worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "messages/probe_messages.hpp"

namespace orasi {

struct http_prober_options {
  /// A response body larger than this fails the attempt (body_too_large)
  /// and the connection is dropped.
  size_t body_limit = 64 * 1024;
  /// Reuse one connection per endpoint between checks.
  bool keep_alive = true;
  /// Verify https certificates against the system's CAs and the host name.
  bool tls_verify = false;
  /// Idle pooled connections older than this are closed.
  caf::timespan idle_timeout = std::chrono::seconds(60);
  /// Idle connections kept per scheme+host+port.
  size_t max_idle_per_host = 16;
};

class http_prober {
public:
  /// Runs on the engine thread; must not block.
  using completion = std::function<void(attempt_result)>;

  /// Starts the event-loop thread.
  explicit http_prober(http_prober_options options = {});

  /// Closes every connection and joins the thread. Completions of attempts
  /// still in flight are not called.
  ~http_prober();

  http_prober(const http_prober&) = delete;
  http_prober& operator=(const http_prober&) = delete;

  /// Starts one attempt; `done` is called exactly once with its result
  /// (unless the engine is destroyed first). Thread-safe, never blocks.
  void submit(attempt_request request, completion done);

  /// Sockets the engine holds open right now (in flight + idle pool).
  size_t open_connections() const;

  /// Attempts in flight right now.
  size_t in_flight() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace orasi
