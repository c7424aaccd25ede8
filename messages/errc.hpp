// What went wrong, independent of where: the kinds of the project's errors,
// without CAF (messages/errors.hpp carries them in caf::error), so that the
// facade's GatewayError names them without CAF's headers.
#pragma once

#include <cstdint>

namespace orasi {

/// What went wrong, independent of where. Values are stable: they travel in
/// caf::error codes.
enum class errc : uint8_t {
  config_invalid = 1,
  backend_unavailable,
  backend_rejected,
  timeout,
  not_found,
  serialization,
  not_running,
};

/// "config_invalid", "backend_unavailable", ...
const char* to_string(errc x);

} // namespace orasi
