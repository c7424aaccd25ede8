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
#include <deque>
#include <functional>
#include <map>
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
/// Counts itself in `open_count` from creation until close().
class connection {
public:
  using tls_stream = ssl::stream<tcp::socket>;

  connection(asio::io_context& io, std::atomic<size_t>& open_count)
      : stream_(std::in_place_type<tcp::socket>, io), open_count_(open_count) {
    ++open_count_;
  }

  connection(asio::io_context& io, ssl::context& tls,
             std::atomic<size_t>& open_count)
      : stream_(std::in_place_type<tls_stream>, io, tls),
        open_count_(open_count) {
    ++open_count_;
  }

  ~connection() { close(); }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  tcp::socket& socket() {
    if (auto* tls = std::get_if<tls_stream>(&stream_))
      return tls->next_layer();
    return std::get<tcp::socket>(stream_);
  }

  tls_stream* tls() { return std::get_if<tls_stream>(&stream_); }

  /// Calls `f` with the stream that carries HTTP: the socket or the TLS
  /// stream on top of it, so that reading and writing are written once.
  template <class F>
  void with_stream(F&& f) {
    std::visit(std::forward<F>(f), stream_);
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

private:
  std::variant<tcp::socket, tls_stream> stream_;
  std::atomic<size_t>& open_count_;
  bool closed_ = false;
};

using connection_ptr = std::shared_ptr<connection>;

/// A healthy idle keep-alive connection has nothing to read: readable means
/// the server closed it (or sent bytes nobody asked for), so it is dead.
inline bool idle_connection_usable(connection& conn) {
  pollfd entry{conn.socket().native_handle(), POLLIN, 0};
  return ::poll(&entry, 1, 0) == 0;
}

/// Idle keep-alive connections per (tls, host, port), most recent last.
class idle_pool {
public:
  using key = std::tuple<bool, std::string, uint16_t>;

  /// At most `max_per_host` idle connections per key and `max_total` in
  /// all (no_cap: no bound on the total).
  static constexpr size_t no_cap = SIZE_MAX;
  explicit idle_pool(size_t max_per_host, size_t max_total = no_cap)
      : max_per_host_(max_per_host), max_total_(max_total) {}

  /// The most recently used live connection for `k`, or null.
  connection_ptr take(const key& k) {
    auto entry = idle_.find(k);
    if (entry == idle_.end())
      return nullptr;
    auto& stack = entry->second;
    connection_ptr found;
    while (!stack.empty() && !found) {
      auto candidate = std::move(stack.back());
      stack.pop_back();
      --size_;
      if (idle_connection_usable(*candidate))
        found = std::move(candidate);
    }
    if (stack.empty())
      idle_.erase(entry);
    return found;
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
      stack.pop_front();
      --size_;
    }
  }

  /// Closes connections idle for longer than `idle_timeout` or closed by
  /// their server, so that no dead socket waits for its next use.
  void sweep(steady::time_point now, steady::duration idle_timeout) {
    drop_if([&](connection& conn) {
      return now - conn.idle_since >= idle_timeout;
    });
    drop_closed_by_peer();
  }

  void clear() {
    idle_.clear();
    size_ = 0;
  }

  /// Idle connections held right now.
  size_t size() const { return size_; }

  /// Connections closed on their return because the pool held max_total.
  /// Read from any thread.
  size_t cap_closures() const { return cap_closures_.load(); }

private:
  /// Closes (drops) every idle connection for which `pred` holds, visiting
  /// them in one fixed order (hosts in key order, then oldest first).
  template <class Predicate>
  void drop_if(Predicate&& pred) {
    for (auto entry = idle_.begin(); entry != idle_.end();) {
      auto& stack = entry->second;
      for (auto conn = stack.begin(); conn != stack.end();) {
        if (pred(**conn)) {
          conn = stack.erase(conn);
          --size_;
        } else {
          ++conn;
        }
      }
      entry = stack.empty() ? idle_.erase(entry) : std::next(entry);
    }
  }

  // One poll() over every idle socket rather than one per socket: at 10k
  // endpoints that is one syscall a sweep instead of 10k.
  void drop_closed_by_peer() {
    std::vector<pollfd> entries;
    drop_if([&](connection& conn) {
      entries.push_back({conn.socket().native_handle(), POLLIN, 0});
      return false;
    });
    // On error (EINTR, ...) nothing is known: keep them all until next time.
    if (entries.empty() || ::poll(entries.data(), entries.size(), 0) <= 0)
      return;
    auto next = entries.begin();
    drop_if([&](connection&) { return (next++)->revents != 0; });
  }

  size_t max_per_host_;
  size_t max_total_;
  size_t size_ = 0; // idle connections in idle_
  std::atomic<size_t> cap_closures_{0};
  std::map<key, std::deque<connection_ptr>> idle_;
};

/// How often the pool looks for expired and dead connections.
inline steady::duration sweep_period(caf::timespan idle_timeout) {
  using namespace std::chrono;
  return std::clamp<steady::duration>(idle_timeout / 2, milliseconds(10),
                                      seconds(1));
}

} // namespace orasi::http_pool
