// One attempt of one request on one connection: connect (if new), send,
// read the response whole or as a stream. The client (control_client.cpp)
// owns the deadline, the retry and the connection's fate; an exchange only
// does the I/O and reports once. Internal; loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/connection.hpp"
#include "net/http_message.hpp"
#include "net/response_parser.hpp"

namespace orasi::net {

struct attempt_outcome {
  http_response response; // a failure, or the response (no body if streamed)
  bool reusable = false;  // the connection may carry the next request
  /// A reused connection failed before any byte of a response: the server
  /// closed it while idle and never saw the request, which may go again
  /// on a fresh connection.
  bool retriable = false;
};

/// Where a stream's head and pieces go; none for a buffered request.
struct stream_sink {
  std::function<void(const http_response&)> on_head;
  std::function<void(std::string_view)> on_data;
};

/// Why `request` cannot be sent, or empty if it can.
std::string invalid_reason(const http_request& request);

class exchange : public std::enable_shared_from_this<exchange> {
public:
  using report = std::function<void(attempt_outcome)>;

  /// `request` and `sink` must outlive the exchange's reports.
  exchange(connection_ptr conn, bool reused, const http_request& request,
           const stream_sink* sink, report done);

  void run();

  /// Ends the attempt and closes its connection: nothing is reported
  /// after this.
  void abort();

  const connection_ptr& conn() const { return conn_; }

private:
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;

  void resolve();
  void connect(std::vector<tcp::endpoint> endpoints);
  void on_connected(error_code ec);
  void send();
  void on_sent(error_code ec);
  response_parser& next_parser();
  void read_whole();
  void on_read_whole(error_code ec);
  void read_head();
  void on_read_head(error_code ec);
  void read_piece();
  void on_read_piece(error_code ec);
  bool interim_again();
  void fail_read(error_code ec);
  void complete();
  void fail(request_failure failure, std::string detail,
            bool retriable = false);
  void finish(attempt_outcome outcome);
  std::string where() const;

  connection_ptr conn_;
  bool reused_;
  const http_request& request_;
  const stream_sink* sink_; // null: buffer the body
  report done_;
  bool finished_ = false;
  int interim_responses_ = 0;
  std::optional<tcp::resolver> resolver_; // for host names only
  boost::beast::http::request<boost::beast::http::string_body> message_;
  boost::beast::flat_buffer buffer_;
  std::optional<response_parser> parser_;
};

} // namespace orasi::net
