// The target of the distinct-address layout (bench/probe_target
// --addresses N): an HTTP server on N loopback addresses (127.1.x.y, see
// bench/loopback_addresses.hpp), one listening socket per address, all on
// one port, answering 200 to every request; optionally M more addresses
// (127.2.x.y) that read requests and never answer. A listening socket and a
// kept-alive connection per address take two descriptors, so the addresses
// are spread over shard processes (fork, one epoll loop each), each under
// the open-file limit; the parent collects what they recorded when stopped.
// Only 127.0.0.0/8 addresses are ever bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>
#include <vector>

namespace orasi::bench {

struct fleet_options {
  size_t answering = 0; // addresses answering 200
  size_t hanging = 0;   // addresses that never answer
  /// At most this many addresses per shard process (two descriptors each,
  /// plus the connections of checks that overlap).
  size_t addresses_per_shard = 8000;
};

/// One request to an answering address; `at_ns` on the steady clock.
struct fleet_request {
  uint32_t endpoint; // index of the address among the answering ones
  int64_t at_ns;
};

/// What the shards saw, all together.
struct fleet_report {
  std::vector<fleet_request> requests; // in no particular order
  std::vector<int64_t> accepts_ns;     // connections accepted (answering)
  double cpu_s = 0;                    // the shards' CPU between their marks
  size_t open_connections = 0;         // at the stop
  size_t accept_errors = 0;    // accept() failures (EMFILE, ENFILE, ...)
  size_t hanging_requests = 0; // requests read and never answered
};

/// Starts the shards in its constructor (throws std::runtime_error if they
/// cannot bind). The caller blocks SIGUSR1, SIGUSR2, SIGTERM and SIGINT
/// first and starts no thread before: the shards inherit the mask and read
/// those signals from a signalfd.
class loopback_fleet {
public:
  explicit loopback_fleet(const fleet_options& options);
  ~loopback_fleet();

  loopback_fleet(const loopback_fleet&) = delete;
  loopback_fleet& operator=(const loopback_fleet&) = delete;

  uint16_t port() const { return port_; }
  size_t shards() const { return shards_.size(); }

  /// SIGUSR1 (the window starts: a CPU mark) or SIGUSR2 (it ends) to every
  /// shard.
  void forward(int sig) const;

  /// Stops the shards and returns what they recorded.
  fleet_report stop();

private:
  struct shard {
    pid_t pid;
    int pipe; // the read end: "R" once bound, then the recording
  };
  std::vector<shard> shards_;
  uint16_t port_ = 0;
};

} // namespace orasi::bench
