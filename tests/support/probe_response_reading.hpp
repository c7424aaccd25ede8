// Drives probing/probe_response's reader over bytes in memory, the way
// the prober engine does over a socket: shared by its unit test and its fuzzer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include "probing/probe_response.hpp"

namespace orasi::testing {

/// A SyncReadStream over `bytes` that hands out at most `chunk` bytes per
/// read (so headers and bodies arrive split), then end of file.
class memory_stream {
public:
  memory_stream(std::string_view bytes, size_t chunk)
      : bytes_(bytes), chunk_(std::max<size_t>(chunk, 1)) {}

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers,
                   boost::system::error_code& ec) {
    if (bytes_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    auto piece = bytes_.substr(0, chunk_);
    auto n = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(piece.data(), piece.size()));
    bytes_.remove_prefix(n);
    ec = {};
    return n;
  }

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    return read_some(buffers, ec);
  }

private:
  std::string_view bytes_;
  size_t chunk_;
};

struct response_reading {
  probe_response_reader::step last = probe_response_reader::step::failed;
  attempt_result result;
  bool reusable = false;
  int reads = 0;
};

/// Reads one response (past interim ones) from `bytes`, as the engine does.
inline response_reading read_probe_response(std::string_view bytes,
                                            size_t chunk, size_t body_limit,
                                            bool keep_alive = true) {
  memory_stream stream{bytes, chunk};
  boost::beast::flat_buffer buffer{probe_read_buffer_limit};
  probe_response_reader reader{body_limit, keep_alive};
  response_reading out;
  do {
    ++out.reads;
    boost::system::error_code ec;
    boost::beast::http::read(stream, buffer, reader.next(), ec);
    out.last = reader.on_read(ec, buffer.size());
  } while (out.last == probe_response_reader::step::read_again &&
           out.reads <= 64);
  out.result = reader.result();
  out.reusable = reader.reusable();
  return out;
}

} // namespace orasi::testing
