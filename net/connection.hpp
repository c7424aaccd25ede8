// One keep-alive connection of the control-plane client to one host:port.
// Internal to the client; used on its loop thread only.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace orasi::net {

/// A socket that carries HTTP, counted open from creation until close() in
/// its host's count (the per-host bound) and in the client's. The stream is
/// a variant so that https adds an alternative (a TLS stream on the
/// socket, as probing/http_connection_pool.hpp has) and with_stream()
/// keeps reading and writing written once.
class connection {
public:
  connection(boost::asio::io_context& io, size_t& host_open,
             std::atomic<size_t>& client_open)
      : stream_(std::in_place_type<boost::asio::ip::tcp::socket>, io),
        host_open_(host_open),
        client_open_(client_open) {
    ++host_open_;
    ++client_open_;
  }

  ~connection() { close(); }

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  boost::asio::ip::tcp::socket& socket() {
    return std::get<boost::asio::ip::tcp::socket>(stream_);
  }

  /// Calls `f` with the stream that carries HTTP.
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
    --host_open_;
    --client_open_;
  }

  bool closed() const { return closed_; }

  bool connected = false; // set once a connect succeeded

private:
  std::variant<boost::asio::ip::tcp::socket> stream_;
  size_t& host_open_;
  std::atomic<size_t>& client_open_;
  bool closed_ = false;
};

using connection_ptr = std::shared_ptr<connection>;

} // namespace orasi::net
