// Reading a health check's response off a connection: the parser's limits,
// interim (1xx) responses skipped, and what a finished read means. No
// sockets here, so the prober engine (probing/http_prober.cpp) and the
// fuzzer (fuzz/fuzz_probe_response.cpp) run the same code on whatever bytes
// a server sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include "messages/probe_messages.hpp"

namespace orasi {

/// Bounds what the read buffer holds beyond the parsed body (a header).
constexpr size_t probe_read_buffer_limit = 16 * 1024;

class probe_response_reader {
public:
  using parser_type =
      boost::beast::http::response_parser<boost::beast::http::string_body>;

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
