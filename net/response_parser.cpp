#include "net/response_parser.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

namespace orasi::net {

namespace {

namespace http = boost::beast::http;
namespace aerror = boost::asio::error;

bool is_http_error(const boost::system::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_version).category();
}

bool is_closed(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream ||
         ec == http::error::partial_message || ec == aerror::eof;
}

} // namespace

bool is_interim(unsigned status) {
  return status >= 100 && status < 200 && status != 101;
}

std::pair<request_failure, std::string>
read_failure(const boost::system::error_code& ec, bool got_some,
             size_t body_limit) {
  if (ec == http::error::body_limit)
    return {request_failure::body_too_large,
            "body over " + std::to_string(body_limit) + " bytes"};
  if (is_closed(ec))
    return {request_failure::connection_lost,
            got_some ? "connection closed mid-response"
                     : "connection closed before responding"};
  if (ec == http::error::header_limit)
    return {request_failure::malformed_response, "response header too large"};
  if (is_http_error(ec))
    return {request_failure::malformed_response,
            "invalid HTTP response: " + ec.message()};
  if (ec == aerror::connection_reset)
    return {request_failure::connection_lost, "connection reset"};
  return {request_failure::connection_lost, "receive failed: " + ec.message()};
}

std::pair<request_failure, std::string>
connect_failure(const boost::system::error_code& ec, const std::string& where) {
  if (ec == aerror::connection_refused)
    return {request_failure::connect_failed, "connection refused by " + where};
  return {request_failure::connect_failed,
          "cannot connect to " + where + ": " + ec.message()};
}

} // namespace orasi::net
