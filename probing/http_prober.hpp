// The prober engine: an HTTP/1.1 client (Boost.Asio/Beast, OpenSSL for
// https) on its own event-loop thread that multiplexes every in-flight probe
// attempt, so that no probe ever blocks a CAF worker. It also runs the check
// schedules (check_scheduler) in that loop, so a check's timer, attempts and
// deadline never leave it, and delivers their outcomes in batches.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/probe_messages.hpp"
#include "probing/check_port.hpp"

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
  /// Idle connections kept in all (unset: no bound); a connection returned
  /// while the pool holds this many is closed instead. Each idle
  /// keep-alive connection holds a socket and its kernel buffers at both
  /// ends, so this bounds what keep-alive costs across many endpoints.
  std::optional<size_t> max_idle_connections;
  /// A host name's addresses are reused this long (getaddrinfo does not
  /// tell the records' own TTL); zero looks the name up for every attempt.
  caf::timespan dns_ttl = std::chrono::seconds(30);
  /// A host name that did not resolve is not looked up again for this long.
  caf::timespan dns_failure_ttl = std::chrono::seconds(5);
  /// Host names are looked up (getaddrinfo, which blocks) on up to this many
  /// threads of their own, so that one slow name does not hold up others.
  /// Destroying the engine waits for lookups that are running.
  size_t resolver_threads = 4;
  /// While attempts are in flight the loop wakes once per tick and takes
  /// every answer that came meanwhile; idle, it wakes for the next check on
  /// this grid. Checks start up to one tick late.
  caf::timespan schedule_tick = std::chrono::milliseconds(2);
  /// Outcomes wait at most this long to be delivered together.
  caf::timespan outcome_batch_window = std::chrono::milliseconds(10);
  /// ... or until this many are waiting.
  size_t outcome_batch_limit = 1024;
  /// Tests only: replaces getaddrinfo. Called on a lookup thread (it may
  /// block, and must be thread-safe); returns the host's addresses as IP
  /// literals, none if the name does not resolve.
  std::function<std::vector<std::string>(const std::string& host)> resolve_hook;
};

class http_prober : public check_port {
public:
  /// Runs on the engine thread; must not block.
  using completion = std::function<void(attempt_result)>;

  /// Starts the event-loop thread.
  explicit http_prober(http_prober_options options = {});

  /// Closes every connection and joins the thread. Completions of attempts
  /// still in flight are not called.
  ~http_prober() override;

  /// Stops the loop, closes every connection and joins the engine's
  /// threads (the lookup threads wait for a getaddrinfo that is running)
  /// on the caller's thread; afterwards nothing runs and every call is a
  /// no-op. The owner calls it, so that whoever drops the last reference
  /// (a CAF worker, say) never blocks on a join. Idempotent.
  void shutdown();

  http_prober(const http_prober&) = delete;
  http_prober& operator=(const http_prober&) = delete;

  /// Starts one attempt; `done` is called exactly once with its result
  /// (unless the engine is destroyed first). Thread-safe, never blocks.
  void submit(attempt_request request, completion done);

  /// check_port: the schedules run in the engine's loop.
  uint64_t add_schedule(check_spec spec) override;
  void set_fast(uint64_t handle, bool fast) override;
  void remove_schedule(uint64_t handle) override;

  /// Sockets the engine holds open right now (in flight + idle pool).
  size_t open_connections() const;

  /// Attempts in flight right now (none after shutdown()).
  size_t in_flight() const;

  /// Host-name lookups started so far: one per name whose cached addresses
  /// are missing or expired, however many attempts wait for it.
  size_t dns_lookups() const;

  /// Connections closed on their return to the idle pool because it held
  /// max_idle_connections already.
  size_t idle_cap_closures() const;

  /// Schedules the loop runs right now (an add or remove counts once the
  /// loop has taken it).
  size_t schedules() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace orasi
