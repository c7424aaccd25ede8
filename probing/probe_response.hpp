// Reading a health check's response off a connection: the parser's limits,
// interim (1xx) responses skipped, and what a finished read means. No
// sockets here, so the prober engine (probing/http_prober.cpp) and the
// fuzzer (fuzz/fuzz_probe_response.cpp) run the same code on whatever bytes
// a server sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>

#include "messages/probe_messages.hpp"

namespace orasi {

/// Bounds what the read buffer holds beyond the parsed body (a header).
constexpr size_t probe_read_buffer_limit = 16 * 1024;

/// Parses a response for what a check needs, its status, and keeps no
/// header nor body: the framing (length, chunks, limits, keep-alive) is
/// the base parser's, and a header list or body string per check would
/// cost allocations nobody reads.
class status_only_parser : public boost::beast::http::basic_parser<false> {
public:
  unsigned status() const { return status_; }

private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    status_ = static_cast<unsigned>(code);
  }
  void on_field_impl(boost::beast::http::field, string_view, string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override {
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body,
                            error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  unsigned status_ = 0;
};

class probe_response_reader {
public:
  using parser_type = status_only_parser;

  enum class step {
    read_again, // an interim response: read the next one into next()
    complete,   // result() has the status; reusable() says about the socket
    failed,     // result() has the failure and why
  };

  probe_response_reader(size_t body_limit, bool keep_alive)
      : body_limit_(body_limit), keep_alive_(keep_alive) {}

  /// Forgets earlier responses (a new connection, a new attempt).
  void restart();

  /// A fresh parser, limits set, for the next read.
  parser_type& next();

  /// A read into next()'s parser ended with `ec`; `leftover` bytes remain
  /// buffered beyond what the parser took.
  step on_read(const boost::system::error_code& ec, size_t leftover);

  /// No byte of any response arrived (a pooled connection closed while
  /// idle looks like this).
  bool nothing_received() const;

  const attempt_result& result() const { return result_; }
  bool reusable() const { return reusable_; }

private:
  step complete(size_t leftover);
  step fail(probe_failure failure, std::string detail);

  size_t body_limit_;
  bool keep_alive_;
  std::optional<parser_type> parser_;
  int interim_responses_ = 0;
  attempt_result result_;
  bool reusable_ = false;
};

} // namespace orasi
