// Consul catalog and health answers: decoding fails cleanly or yields
// instances that map to a ServiceInfo.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backends/consul_wire.hpp"

using namespace orasi::backends;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  (void)consul::decode_catalog(text);
  size_t skipped = 0;
  if (auto instances = consul::decode_health(text, skipped))
    (void)consul::to_service_info("fuzz", std::move(*instances));
  return 0;
}
