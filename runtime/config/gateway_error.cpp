#include "runtime/config/gateway_error.hpp"

#include <caf/error.hpp>
#include <caf/sec.hpp>

#include "messages/errors.hpp"

namespace orasi {

GatewayError::GatewayError(Kind kind, const std::string& message)
    : std::runtime_error(std::string{to_string(kind)} + ": " + message),
      kind_(kind),
      message_(message) {}

GatewayError GatewayError::from(const caf::error& err) {
  if (is_orasi_error(err))
    return GatewayError{static_cast<errc>(err.code()), error_message(err)};
  if (err == caf::sec::request_timeout)
    return GatewayError{errc::timeout, "no answer from the actor system"};
  if (err == caf::sec::request_receiver_down)
    return GatewayError{errc::backend_unavailable,
                        "a service discovery actor ended while handling the "
                        "request; try again"};
  return GatewayError{errc::not_running, error_message(err)};
}

} // namespace orasi
