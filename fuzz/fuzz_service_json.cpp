// ServiceInfo JSON, as backends and the admin API hand it to us: decoding
// must fail cleanly or give a service that validates and round-trips.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "messages/json_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  for (auto mode :
       {orasi::unknown_fields::ignore, orasi::unknown_fields::reject}) {
    auto info = orasi::decode_service(text, "fuzz", mode);
    if (!info)
      continue;
    // What decodes must encode and decode to the same value.
    auto again = orasi::decode_service(orasi::encode(*info), "again", mode);
    if (!again || !(*again == *info))
      __builtin_trap();
  }
  return 0;
}
