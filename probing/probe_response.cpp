#include "probing/probe_response.hpp"

#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

namespace orasi {

namespace {

namespace http = boost::beast::http;

// Status line and headers of a health response are small; a bigger header
// block is a misbehaving server, not a reason to buffer more.
constexpr uint32_t header_limit = 8 * 1024;
// 100 Continue and 103 Early Hints come once or twice before a response;
// more is a server that never gets to the point.
constexpr int max_interim_responses = 8;

// 100 Continue, 103 Early Hints: the final response follows. 101 Switching
// Protocols is final (nobody asked for it; it fails the check).
bool is_interim(unsigned status) {
  return status >= 100 && status < 200 && status != 101;
}

bool is_http_error(const boost::system::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_version).category();
}

bool is_closed(const boost::system::error_code& ec) {
  // A TLS peer that closes without close_notify reports stream_truncated.
  return ec == http::error::end_of_stream ||
         ec == http::error::partial_message ||
         ec == boost::asio::ssl::error::stream_truncated ||
         ec == boost::asio::error::eof;
}

} // namespace

void probe_response_reader::restart() {
  parser_.reset();
  interim_responses_ = 0;
  result_ = attempt_result{};
  reusable_ = false;
}

probe_response_reader::parser_type& probe_response_reader::next() {
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(body_limit_);
  return *parser_;
}

bool probe_response_reader::nothing_received() const {
  return interim_responses_ == 0 && !(parser_ && parser_->got_some());
}

probe_response_reader::step
probe_response_reader::on_read(const boost::system::error_code& ec,
                               size_t leftover) {
  if (!ec && is_interim(parser_->status())) {
    if (++interim_responses_ > max_interim_responses)
      return fail(probe_failure::protocol_error,
                  "more than " + std::to_string(max_interim_responses) +
                      " interim (1xx) responses");
    return step::read_again;
  }
  if (!ec)
    return complete(leftover);
  if (ec == http::error::body_limit)
    return fail(probe_failure::body_too_large,
                "body over " + std::to_string(body_limit_) + " bytes");
  if (is_closed(ec))
    return fail(probe_failure::protocol_error,
                nothing_received() ? "connection closed before responding"
                                   : "connection closed mid-response");
  if (is_http_error(ec))
    return fail(probe_failure::protocol_error,
                "invalid HTTP response: " + ec.message());
  return fail(probe_failure::connection, "receive failed: " + ec.message());
}

// The reader never judges statuses nor follows redirects: any complete
// response is a result. Leftover bytes would be read as the next response's
// start, so such a connection is not reused; nor is one that switched
// protocols.
probe_response_reader::step probe_response_reader::complete(size_t leftover) {
  // The parser takes any three digits; RFC 9110 status codes are 100-599
  // (found by fuzz/fuzz_probe_response: "HTTP/1.1 000 OK" passed as a
  // response with status 0, which means "no response" everywhere else).
  auto status = parser_->status();
  if (status < 100 || status > 599)
    return fail(probe_failure::protocol_error,
                "invalid HTTP response: status " + std::to_string(status));
  result_.status = static_cast<uint16_t>(status);
  reusable_ = keep_alive_ && parser_->keep_alive() && leftover == 0 &&
              result_.status != 101;
  return step::complete;
}

probe_response_reader::step probe_response_reader::fail(probe_failure failure,
                                                        std::string detail) {
  result_.failure = failure;
  result_.detail = std::move(detail);
  reusable_ = false;
  return step::failed;
}

} // namespace orasi
