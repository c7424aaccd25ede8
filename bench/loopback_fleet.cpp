// See loopback_fleet.hpp. A shard is a plain epoll loop: listening sockets
// (edge-triggered, accepted until EAGAIN so that an accept error cannot
// spin), connections (level-triggered reads), and a signalfd.

#include "bench/loopback_fleet.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/loopback_addresses.hpp"
#include "bench/proc_stats.hpp"

namespace orasi::bench {

namespace {

/// One address a shard listens on.
struct address_entry {
  uint32_t address; // host order
  uint32_t endpoint;
  bool hanging;
};

/// What a shard sends its parent when stopped, before the two arrays.
struct shard_summary {
  double cpu_s;
  uint64_t open_connections;
  uint64_t accept_errors;
  uint64_t hanging_requests;
  uint64_t requests;
  uint64_t accepts;
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool write_full(int fd, const void* data, size_t size) {
  auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, bytes, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_full(int fd, void* data, size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, bytes, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// Whether the request head (request line and headers) keeps its
/// connection open: HTTP/1.1 unless "Connection: close", HTTP/1.0 only
/// with "Connection: keep-alive".
bool keeps_alive(std::string head) {
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  bool http10 =
      head.substr(0, head.find("\r\n")).find("http/1.0") != std::string::npos;
  if (head.find("\r\nconnection: close") != std::string::npos)
    return false;
  return !http10 ||
         head.find("\r\nconnection: keep-alive") != std::string::npos;
}

class shard_loop {
public:
  shard_loop(uint16_t port, std::vector<address_entry> addresses)
      : port_(port), addresses_(std::move(addresses)) {}

  /// Binds every address; false (with a message on stderr) if one fails.
  bool bind_all() {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    sigset_t signals;
    sigemptyset(&signals);
    for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT})
      sigaddset(&signals, sig);
    signal_fd_ = ::signalfd(-1, &signals, SFD_CLOEXEC);
    if (epoll_ < 0 || signal_fd_ < 0 || !watch(signal_fd_, EPOLLIN))
      return fail("epoll/signalfd");
    for (auto& entry : addresses_) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0)
        return fail("socket");
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(port_);
      address.sin_addr.s_addr = htonl(entry.address);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
              0 ||
          ::listen(fd, 128) != 0) {
        ::close(fd);
        return fail(("bind/listen " + dotted(entry.address) + ":" +
                     std::to_string(port_))
                        .c_str());
      }
      auto& s = slot_of(fd);
      s = slot{slot::listener, entry.hanging, entry.endpoint, {}};
      if (!watch(fd, EPOLLIN | EPOLLET))
        return fail("epoll_ctl");
    }
    return true;
  }

  /// Serves until SIGTERM or SIGINT.
  void run() {
    epoll_event events[256];
    for (bool stopping = false; !stopping;) {
      int n = ::epoll_wait(epoll_, events, 256, -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == signal_fd_)
          stopping = on_signal() || stopping;
        else if (slot_of(fd).kind == slot::listener)
          on_accept(fd);
        else if (slot_of(fd).kind == slot::connection)
          on_readable(fd);
      }
    }
  }

  /// The recording, to the parent.
  bool send(int pipe) const {
    shard_summary summary{cpu_end() - cpu_begin_, open_,
                          accept_errors_,         hanging_requests_,
                          requests_.size(),       accepts_.size()};
    return write_full(pipe, &summary, sizeof summary) &&
           write_full(pipe, requests_.data(),
                      requests_.size() * sizeof(fleet_request)) &&
           write_full(pipe, accepts_.data(), accepts_.size() * sizeof(int64_t));
  }

private:
  struct slot {
    enum kind_t : uint8_t { none, listener, connection } kind = none;
    bool hanging = false;
    uint32_t endpoint = 0;
    std::string buffer; // a connection's unparsed input
  };

  bool fail(const char* what) {
    std::fprintf(stderr, "probe_target shard: %s: %s\n", what,
                 std::strerror(errno));
    return false;
  }

  slot& slot_of(int fd) {
    if (static_cast<size_t>(fd) >= slots_.size())
      slots_.resize(static_cast<size_t>(fd) + 1024);
    return slots_[static_cast<size_t>(fd)];
  }

  bool watch(int fd, uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    return ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) == 0;
  }

  double cpu_end() const {
    return cpu_end_ >= 0 ? cpu_end_ : orasi::bench::proc::process_cpu_seconds();
  }

  /// Takes a mark; true on a stop signal.
  bool on_signal() {
    signalfd_siginfo info{};
    if (::read(signal_fd_, &info, sizeof info) != sizeof info)
      return false;
    if (info.ssi_signo == SIGUSR1)
      cpu_begin_ = orasi::bench::proc::process_cpu_seconds();
    else if (info.ssi_signo == SIGUSR2)
      cpu_end_ = orasi::bench::proc::process_cpu_seconds();
    else
      return true;
    return false;
  }

  void on_accept(int listener) {
    auto listener_slot = slot_of(listener); // a copy: slots_ may grow
    for (;;) {
      int fd =
          ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          ++accept_errors_;
        return;
      }
      if (!watch(fd, EPOLLIN)) {
        ::close(fd);
        ++accept_errors_;
        continue;
      }
      slot_of(fd) = slot{
          slot::connection, listener_slot.hanging, listener_slot.endpoint, {}};
      ++open_;
      if (!listener_slot.hanging)
        accepts_.push_back(now_ns());
    }
  }

  void close_connection(int fd) {
    ::close(fd); // also leaves the epoll set
    slot_of(fd) = slot{};
    --open_;
  }

  void on_readable(int fd) {
    char input[4096];
    ssize_t n = ::read(fd, input, sizeof input);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (n <= 0) {
      close_connection(fd);
      return;
    }
    auto& s = slot_of(fd);
    if (s.hanging) {
      // Reads and forgets: one "request" per read is close enough here.
      ++hanging_requests_;
      return;
    }
    s.buffer.append(input, static_cast<size_t>(n));
    for (size_t end; (end = s.buffer.find("\r\n\r\n")) != std::string::npos;) {
      requests_.push_back(fleet_request{s.endpoint, now_ns()});
      bool keep = keeps_alive(s.buffer.substr(0, end));
      s.buffer.erase(0, end + 4);
      static const char ok_keep[] = "HTTP/1.1 200 OK\r\nContent-Type: "
                                    "text/plain\r\nContent-Length: 2\r\n\r\nok";
      static const char ok_close[] =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
          "2\r\nConnection: close\r\n\r\nok";
      const char* reply = keep ? ok_keep : ok_close;
      size_t size = keep ? sizeof ok_keep - 1 : sizeof ok_close - 1;
      // A few dozen bytes into an empty socket buffer: a short write would
      // be a client that stopped reading, and is closed.
      if (::send(fd, reply, size, MSG_NOSIGNAL) != static_cast<ssize_t>(size) ||
          !keep) {
        close_connection(fd);
        return;
      }
    }
    if (s.buffer.size() > 65536)
      close_connection(fd);
  }

  uint16_t port_;
  std::vector<address_entry> addresses_;
  int epoll_ = -1;
  int signal_fd_ = -1;
  std::vector<slot> slots_;
  std::vector<fleet_request> requests_;
  std::vector<int64_t> accepts_;
  double cpu_begin_ = 0; // 0 without SIGUSR1: the whole run
  double cpu_end_ = -1;  // -1 without SIGUSR2: until stopped
  uint64_t open_ = 0;
  uint64_t accept_errors_ = 0;
  uint64_t hanging_requests_ = 0;
};

/// A free port on 127.1.0.1 (bound to port 0, read, closed): the shards
/// bind it on every address.
uint16_t pick_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(distinct_address(address_set::answering, 0));
  socklen_t length = sizeof address;
  if (fd < 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error(std::string("probe_target: no free port: ") +
                             std::strerror(errno));
  ::close(fd);
  return ntohs(address.sin_port);
}

} // namespace

loopback_fleet::loopback_fleet(const fleet_options& options) {
  if (options.answering > max_distinct_addresses ||
      options.hanging > max_distinct_addresses ||
      options.addresses_per_shard == 0)
    throw std::runtime_error("probe_target: too many addresses");
  std::vector<address_entry> all;
  for (size_t i = 0; i < options.answering; ++i)
    all.push_back({distinct_address(address_set::answering, i),
                   static_cast<uint32_t>(i), false});
  for (size_t i = 0; i < options.hanging; ++i)
    all.push_back({distinct_address(address_set::hanging, i),
                   static_cast<uint32_t>(i), true});
  size_t count =
      std::max<size_t>(1, (all.size() + options.addresses_per_shard - 1) /
                              options.addresses_per_shard);
  // Another process may hold the port on one of the addresses: try again
  // with another.
  for (int attempt = 0; attempt < 5 && shards_.empty(); ++attempt) {
    port_ = pick_port();
    bool ok = true;
    for (size_t s = 0; s < count && ok; ++s) {
      std::vector<address_entry> part(all.begin() + s * all.size() / count,
                                      all.begin() +
                                          (s + 1) * all.size() / count);
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error("probe_target: pipe");
      pid_t pid = ::fork();
      if (pid == 0) {
        // A parent that dies (SIGKILL) leaves no shard behind holding the
        // addresses.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::close(fds[0]);
        shard_loop loop{port_, std::move(part)};
        if (!loop.bind_all()) {
          write_full(fds[1], "E", 1);
          ::_exit(1);
        }
        write_full(fds[1], "R", 1);
        loop.run();
        ::_exit(loop.send(fds[1]) ? 0 : 1);
      }
      ::close(fds[1]);
      if (pid < 0) {
        ::close(fds[0]);
        throw std::runtime_error("probe_target: fork");
      }
      shards_.push_back(shard{pid, fds[0]});
      char ready = 0;
      ok = read_full(fds[0], &ready, 1) && ready == 'R';
    }
    if (!ok) {
      for (auto& s : shards_) {
        ::kill(s.pid, SIGTERM);
        ::close(s.pipe);
        ::waitpid(s.pid, nullptr, 0);
      }
      shards_.clear();
    }
  }
  if (shards_.empty())
    throw std::runtime_error("probe_target: the shards could not bind");
}

loopback_fleet::~loopback_fleet() {
  for (auto& s : shards_) {
    ::kill(s.pid, SIGKILL);
    ::close(s.pipe);
    ::waitpid(s.pid, nullptr, 0);
  }
}

void loopback_fleet::forward(int sig) const {
  for (auto& s : shards_)
    ::kill(s.pid, sig);
}

fleet_report loopback_fleet::stop() {
  fleet_report report;
  forward(SIGTERM);
  for (auto& s : shards_) {
    shard_summary summary{};
    if (read_full(s.pipe, &summary, sizeof summary)) {
      size_t requests = report.requests.size();
      size_t accepts = report.accepts_ns.size();
      report.requests.resize(requests + summary.requests);
      report.accepts_ns.resize(accepts + summary.accepts);
      read_full(s.pipe, report.requests.data() + requests,
                summary.requests * sizeof(fleet_request));
      read_full(s.pipe, report.accepts_ns.data() + accepts,
                summary.accepts * sizeof(int64_t));
      report.cpu_s += summary.cpu_s;
      report.open_connections += summary.open_connections;
      report.accept_errors += summary.accept_errors;
      report.hanging_requests += summary.hanging_requests;
    } else {
      std::fprintf(stderr, "probe_target: shard %d sent nothing\n",
                   static_cast<int>(s.pid));
    }
    ::close(s.pipe);
    ::waitpid(s.pid, nullptr, 0);
  }
  shards_.clear();
  return report;
}

} // namespace orasi::bench
