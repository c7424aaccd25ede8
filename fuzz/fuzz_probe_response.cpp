// A health check's response as the engine reads it
// (probing/probe_response): whatever a server sends, in whatever
// pieces, the reader must end with a valid status or a failure with a reason,
// after at most 9 reads (8 interim responses are read past).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "support/probe_response_reading.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  // The first byte picks the read size, the second the body limit.
  size_t chunk = 1 + data[0] % 64;
  size_t body_limit = 16 * (1 + data[1]);
  std::string_view bytes{reinterpret_cast<const char*>(data) + 2, size - 2};
  auto read = orasi::testing::read_probe_response(bytes, chunk, body_limit);
  const auto& result = read.result;
  using step = orasi::probe_response_reader::step;
  bool valid_status = result.status >= 100 && result.status <= 599;
  bool ok = read.reads <= 9 &&
            (read.last == step::complete
                 ? valid_status && result.failure == orasi::probe_failure::none
                 : read.last == step::failed &&
                       result.failure != orasi::probe_failure::none &&
                       !result.detail.empty() && !read.reusable);
  if (!ok)
    __builtin_trap();
  return 0;
}
