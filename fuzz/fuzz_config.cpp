// The config loader: any input is a GatewayConfig or a GatewayError naming
// the field, never a crash or another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  try {
    (void)orasi::GatewayConfig::from_json(text, "fuzz");
  } catch (const orasi::GatewayError&) {
    // Rejected with a reason: fine.
  }
  return 0;
}
