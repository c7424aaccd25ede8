// Reading a control-plane response: a Beast parser that keeps the status,
// every header and the body (whole, or piece by piece for a stream), and
// what a failed read means. Internal to the client (it pulls in Beast).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>

#include "net/http_message.hpp"

namespace orasi::net {

/// Bounds the status line and headers of one response.
constexpr uint32_t response_header_limit = 64 * 1024;

/// Keeps what the base parser reports; the framing (length, chunks,
/// limits, keep-alive) is the base parser's.
class response_parser : public boost::beast::http::basic_parser<false> {
public:
  unsigned status() const { return status_; }
  header_list& headers() { return headers_; }
  std::string& body() { return body_; }

  /// The body received since the last call (a stream's next piece).
  std::string take_piece() { return std::exchange(body_, std::string{}); }

private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    status_ = static_cast<unsigned>(code);
  }
  void on_field_impl(boost::beast::http::field, string_view name,
                     string_view value, error_code&) override {
    headers_.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body,
                            error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  unsigned status_ = 0;
  header_list headers_;
  std::string body_;
};

/// 100 Continue, 103 Early Hints: the final response follows. 101 is final
/// (nobody asked to switch protocols).
bool is_interim(unsigned status);

/// A failure and what it says, from a read that ended with `ec`;
/// `got_some` when any byte of a response had arrived.
std::pair<request_failure, std::string>
read_failure(const boost::system::error_code& ec, bool got_some,
             size_t body_limit);

/// The failure of a connect that ended with `ec`.
std::pair<request_failure, std::string>
connect_failure(const boost::system::error_code& ec, const std::string& where);

} // namespace orasi::net
