// etcd gateway answers and watch lines: every decoder must fail cleanly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"

using namespace orasi::backends;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  (void)etcd::decode_range(text);
  (void)etcd::decode_write(text);
  (void)etcd::decode_watch_message(text);
  (void)etcd::decode_lease_grant(text);
  (void)etcd::decode_keepalive_ttl(text);
  (void)etcd::decode_auth_token(text);
  (void)etcd::decode_gateway_error(text);
  // Decoding is lenient about unused padding bits (as Go's decoder, which
  // etcd uses); what it decodes must survive a round trip.
  if (auto bytes = base64_decode(text)) {
    auto again = base64_decode(base64_encode(*bytes));
    if (!again || *again != *bytes)
      __builtin_trap();
  }
  return 0;
}
