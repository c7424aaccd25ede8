#include "net/exchange.hpp"

#include "backends/loopback_guard.hpp"

#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace orasi::net {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// 1xx responses come once or twice before the final one; more is a server
// that never gets to the point.
constexpr int max_interim_responses = 8;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

} // namespace

std::string invalid_reason(const http_request& request) {
  if (request.tls)
    return "https is not supported yet";
  if (http::string_to_verb(request.method) == http::verb::unknown)
    return "unknown method \"" + request.method + "\"";
  if (request.host.empty())
    return "no host";
  return {};
}

exchange::exchange(connection_ptr conn, bool reused,
                   const http_request& request, const stream_sink* sink,
                   report done)
    : conn_(std::move(conn)),
      reused_(reused),
      request_(request),
      sink_(sink),
      done_(std::move(done)) {}

void exchange::run() {
  message_.method(http::string_to_verb(request_.method));
  message_.target(request_.target);
  message_.version(11);
  message_.set(http::field::host, where());
  for (const auto& [name, value] : request_.headers)
    message_.insert(name, value);
  message_.body() = request_.body;
  message_.prepare_payload();
  if (conn_->connected)
    return send();
  resolve();
}

void exchange::abort() {
  finished_ = true;
  conn_->close();
}

std::string exchange::where() const {
  return request_.host + ":" + std::to_string(request_.port);
}

// IP literals skip the resolver (and its helper thread) altogether.
void exchange::resolve() {
  const auto& host = request_.host;
  if (is_ip_literal(host))
    return connect(
        {tcp::endpoint{asio::ip::make_address(host), request_.port}});
  if (!loopback_guard::allows_lookup(host)) {
    loopback_guard::refuse("looking up " + host);
    return fail(request_failure::resolve_failed,
                std::string{loopback_guard::refusal_marker} + ": looking up " +
                    host);
  }
  resolver_.emplace(conn_->socket().get_executor());
  resolver_->async_resolve(
      host, std::to_string(request_.port),
      [self = shared_from_this()](error_code ec,
                                  tcp::resolver::results_type results) {
        if (self->finished_)
          return;
        if (ec)
          return self->fail(request_failure::resolve_failed,
                            "cannot resolve " + self->request_.host + ": " +
                                ec.message());
        std::vector<tcp::endpoint> endpoints;
        for (const auto& entry : results)
          endpoints.push_back(entry.endpoint());
        self->connect(std::move(endpoints));
      });
}

void exchange::connect(std::vector<tcp::endpoint> endpoints) {
  for (const auto& endpoint : endpoints) {
    auto address = endpoint.address().to_string();
    if (!loopback_guard::allows_address(address)) {
      loopback_guard::refuse("connecting to " + address);
      return fail(request_failure::connect_failed,
                  std::string{loopback_guard::refusal_marker} +
                      ": connecting to " + address);
    }
  }
  asio::async_connect(
      conn_->socket(), endpoints,
      [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
        self->on_connected(ec);
      });
}

void exchange::on_connected(error_code ec) {
  if (finished_)
    return;
  if (ec) {
    auto [failure, detail] = connect_failure(ec, where());
    return fail(failure, std::move(detail));
  }
  conn_->connected = true;
  // Each request goes out as one write; Nagle would only hold back a
  // request behind an unacknowledged earlier segment.
  error_code ignored;
  conn_->socket().set_option(tcp::no_delay(true), ignored);
  send();
}

void exchange::send() {
  conn_->with_stream([this](auto& stream) {
    http::async_write(stream, message_,
                      [self = shared_from_this()](error_code ec, size_t) {
                        self->on_sent(ec);
                      });
  });
}

void exchange::on_sent(error_code ec) {
  if (finished_)
    return;
  if (ec)
    return fail(request_failure::connection_lost,
                "cannot send the request to " + where() + ": " + ec.message(),
                reused_);
  sink_ ? read_head() : read_whole();
}

response_parser& exchange::next_parser() {
  parser_.emplace();
  parser_->header_limit(response_header_limit);
  if (sink_)
    parser_->body_limit(boost::none);
  else
    parser_->body_limit(request_.body_limit);
  // A response to HEAD announces a body it does not carry.
  parser_->skip(message_.method() == http::verb::head);
  return *parser_;
}

void exchange::read_whole() {
  auto& parser = next_parser();
  conn_->with_stream([this, &parser](auto& stream) {
    http::async_read(stream, buffer_, parser,
                     [self = shared_from_this()](error_code ec, size_t) {
                       self->on_read_whole(ec);
                     });
  });
}

void exchange::on_read_whole(error_code ec) {
  if (finished_)
    return;
  if (ec)
    return fail_read(ec);
  if (is_interim(parser_->status()))
    return interim_again() ? read_whole() : void();
  complete();
}

void exchange::read_head() {
  auto& parser = next_parser();
  conn_->with_stream([this, &parser](auto& stream) {
    http::async_read_header(stream, buffer_, parser,
                            [self = shared_from_this()](error_code ec, size_t) {
                              self->on_read_head(ec);
                            });
  });
}

void exchange::on_read_head(error_code ec) {
  if (finished_)
    return;
  if (ec)
    return fail_read(ec);
  if (is_interim(parser_->status()))
    return interim_again() ? read_head() : void();
  if (parser_->status() > 599)
    return fail(request_failure::malformed_response,
                "invalid HTTP response: status " +
                    std::to_string(parser_->status()));
  http_response head;
  head.status = parser_->status();
  head.headers = parser_->headers();
  sink_->on_head(head);
  if (finished_) // the head's handler may have cancelled the stream
    return;
  parser_->is_done() ? complete() : read_piece();
}

void exchange::read_piece() {
  conn_->with_stream([this](auto& stream) {
    http::async_read_some(stream, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) {
                            self->on_read_piece(ec);
                          });
  });
}

void exchange::on_read_piece(error_code ec) {
  if (finished_)
    return;
  if (auto piece = parser_->take_piece(); !piece.empty()) {
    sink_->on_data(piece);
    if (finished_)
      return;
  }
  if (ec)
    return fail_read(ec);
  parser_->is_done() ? complete() : read_piece();
}

// An interim response was read: false when there were too many (and the
// attempt failed).
bool exchange::interim_again() {
  if (++interim_responses_ <= max_interim_responses)
    return true;
  fail(request_failure::malformed_response,
       "more than " + std::to_string(max_interim_responses) +
           " interim (1xx) responses");
  return false;
}

void exchange::fail_read(error_code ec) {
  bool got_some = interim_responses_ > 0 || parser_->got_some();
  auto [failure, detail] = read_failure(ec, got_some, request_.body_limit);
  fail(failure, detail + " (" + where() + ")", reused_ && !got_some);
}

void exchange::complete() {
  auto status = parser_->status();
  // The parser takes any three digits; HTTP statuses are 100-599.
  if (status < 100 || status > 599)
    return fail(request_failure::malformed_response,
                "invalid HTTP response: status " + std::to_string(status));
  attempt_outcome outcome;
  outcome.response.status = status;
  outcome.response.headers = std::move(parser_->headers());
  outcome.response.body = std::move(parser_->body());
  // Bytes beyond the response would be read as the next one's start.
  outcome.reusable =
      parser_->keep_alive() && buffer_.size() == 0 && status != 101;
  finish(std::move(outcome));
}

void exchange::fail(request_failure failure, std::string detail,
                    bool retriable) {
  conn_->close();
  attempt_outcome outcome;
  outcome.response.failure = failure;
  outcome.response.detail = std::move(detail);
  outcome.retriable = retriable;
  finish(std::move(outcome));
}

void exchange::finish(attempt_outcome outcome) {
  if (finished_)
    return;
  finished_ = true;
  if (!outcome.reusable)
    conn_->close();
  done_(std::move(outcome));
}

} // namespace orasi::net
