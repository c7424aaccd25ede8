#include "messages/errors.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace orasi {

const char* to_string(errc x) {
  switch (x) {
  case errc::config_invalid:
    return "config_invalid";
  case errc::backend_unavailable:
    return "backend_unavailable";
  case errc::backend_rejected:
    return "backend_rejected";
  case errc::timeout:
    return "timeout";
  case errc::not_found:
    return "not_found";
  case errc::serialization:
    return "serialization";
  case errc::not_running:
    return "not_running";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

bool is_orasi_error(const caf::error& err) {
  return err && err.category() == error_category;
}

std::string error_message(const caf::error& err) {
  if (is_orasi_error(err) && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code()));
  return "error code " + std::to_string(err.code());
}

} // namespace orasi
