// The prober engine's connections and their idle keep-alive pool. Internal
// to http_prober.cpp (it pulls in Asio and OpenSSL); used on the engine
// thread only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <caf/timespan.hpp>
#include <netdb.h>
#include <poll.h>

namespace orasi::http_pool {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// One socket to one endpoint, plain or TLS (fixed when it is created).
/// Counts itself in `open_count` from creation until close(). A TLS stream
/// (a few hundred bytes, and its record buffers) is allocated only for
/// https: every kept-alive plain endpoint holds just a socket.
class connection {
public:
  using tls_stream = ssl::stream<tcp::socket>;

  connection(asio::io_context& io, std::atomic<size_t>& open_count)
      : stream_(std::in_place_type<tcp::socket>, io), open_count_(open_count) {
    ++open_count_;
  }

  connection(asio::io_context& io, ssl::context& tls,
             std::atomic<size_t>& open_count)
      : stream_(std::in_place_type<std::unique_ptr<tls_stream>>,
                std::make_unique<tls_stream>(io, tls)),
        open_count_(open_count) {
    ++open_count_;
  }

  ~connection() { close(); }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  tcp::socket& socket() {
    if (auto* tls = tls_if())
      return tls->next_layer();
    return std::get<tcp::socket>(stream_);
  }

  tls_stream* tls() { return tls_if(); }

  /// Calls `f` with the stream that carries HTTP: the socket or the TLS
  /// stream on top of it, so that reading and writing are written once.
  template <class F>
  void with_stream(F&& f) {
    if (auto* tls = tls_if())
      f(*tls);
    else
      f(std::get<tcp::socket>(stream_));
  }

  /// Closes the socket; pending operations complete with operation_aborted.
  void close() {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ignored;
    socket().close(ignored);
    --open_count_;
  }

  steady::time_point idle_since; // when it went back to the idle pool

  bool closed() const { return closed_; }

private:
  tls_stream* tls_if() {
    auto* tls = std::get_if<std::unique_ptr<tls_stream>>(&stream_);
    return tls ? tls->get() : nullptr;
  }

  std::variant<tcp::socket, std::unique_ptr<tls_stream>> stream_;
  std::atomic<size_t>& open_count_;
  bool closed_ = false;
};

using connection_ptr = std::shared_ptr<connection>;

/// Idle keep-alive connections per (tls, host, port), most recent last.
class idle_pool {
public:
  using key = std::tuple<bool, std::string, uint16_t>;

  /// At most `max_per_host` idle connections per key and `max_total` in
  /// all (no_cap: no bound on the total).
  static constexpr size_t no_cap = SIZE_MAX;
  explicit idle_pool(size_t max_per_host, size_t max_total = no_cap)
      : max_per_host_(max_per_host), max_total_(max_total) {}

  /// The most recently used live connection for `k`, or null. A host's
  /// entry stays when it empties (the next put() refills it: no node
  /// churn per check); the sweep removes entries that stay empty.
  connection_ptr take(const key& k) {
    auto entry = idle_.find(k);
    if (entry == idle_.end())
      return nullptr;
    auto& stack = entry->second;
    while (!stack.empty()) {
      auto candidate = std::move(stack.back());
      stack.pop_back();
      --size_;
      if (!candidate->closed())
        return candidate;
    }
    return nullptr;
  }

  /// Keeps `conn` for reuse; the oldest one goes when the host's stack is
  /// full (the oldest is the likeliest to have been dropped by the server).
  /// When the pool holds max_total already, `conn` is closed instead (and
  /// counted in cap_closures()): with periodic checks the connection just
  /// returned is the one needed furthest in the future, so closing it is
  /// what an optimal cache would do, where evicting the least recently
  /// used idle one would close the connection needed next.
  void put(const key& k, connection_ptr conn) {
    if (max_per_host_ == 0)
      return;
    if (size_ >= max_total_) {
      conn->close();
      ++cap_closures_;
      return;
    }
    conn->idle_since = steady::now();
    auto& stack = idle_[k];
    stack.push_back(std::move(conn));
    ++size_;
    if (stack.size() > max_per_host_) {
      stack.erase(stack.begin());
      --size_;
    }
  }

  /// Closes connections idle for longer than `idle_timeout` or closed by
  /// their server, so that no dead socket waits for its next use. The
  /// liveness check is one poll() over every idle socket per sweep, not one
  /// per reuse: a connection the server closed just before a reuse is
  /// caught by the attempt instead (it retries on a fresh connection).
  void sweep(steady::time_point now, steady::duration idle_timeout) {
    std::vector<pollfd> idle;
    for_each_idle([&](connection& conn) {
      if (now - conn.idle_since >= idle_timeout)
        conn.close();
      else
        idle.push_back({conn.socket().native_handle(), POLLIN, 0});
    });
    // On error (EINTR, ...) nothing is known: keep them until next time.
    if (!idle.empty() && ::poll(idle.data(), idle.size(), 0) > 0) {
      auto next = idle.begin();
      for_each_idle([&](connection& conn) {
        // A healthy idle keep-alive connection has nothing to read:
        // readable means closed by the server, or bytes nobody asked for.
        if ((next++)->revents != 0)
          conn.close();
      });
    }
    forget_closed();
  }

  void clear() {
    idle_.clear();
    size_ = 0;
  }

  /// Idle connections held right now (closed ones the sweep has not yet
  /// forgotten included).
  size_t size() const { return size_; }

  /// Connections closed on their return because the pool held max_total.
  /// Read from any thread.
  size_t cap_closures() const { return cap_closures_.load(); }

private:
  /// Visits the open idle connections in one fixed order.
  template <class F>
  void for_each_idle(F&& f) {
    for (auto& entry : idle_)
      for (auto& conn : entry.second)
        if (!conn->closed())
          f(*conn);
  }

  void forget_closed() {
    for (auto entry = idle_.begin(); entry != idle_.end();) {
      auto& stack = entry->second;
      auto kept = std::remove_if(
          stack.begin(), stack.end(),
          [](const connection_ptr& conn) { return conn->closed(); });
      size_ -= static_cast<size_t>(stack.end() - kept);
      stack.erase(kept, stack.end());
      entry = stack.empty() ? idle_.erase(entry) : std::next(entry);
    }
  }

  struct key_hash {
    size_t operator()(const key& k) const {
      auto h = std::hash<std::string>{}(std::get<1>(k));
      return h ^ (static_cast<size_t>(std::get<2>(k)) << 1) ^
             static_cast<size_t>(std::get<0>(k));
    }
  };

  size_t max_per_host_;
  size_t max_total_;
  size_t size_ = 0; // idle connections in idle_
  std::atomic<size_t> cap_closures_{0};
  // A vector per host: most hosts hold one connection (an endpoint each).
  std::unordered_map<key, std::vector<connection_ptr>, key_hash> idle_;
};

/// How often the pool looks for expired and dead connections.
inline steady::duration sweep_period(caf::timespan idle_timeout) {
  using namespace std::chrono;
  return std::clamp<steady::duration>(idle_timeout / 2, milliseconds(10),
                                      seconds(1));
}

} // namespace orasi::http_pool
