// The exception the facade throws: a kind plus a message that names the
// thing at fault (a config path, an endpoint URL, a key).
#pragma once

#include <stdexcept>
#include <string>

#include "messages/errc.hpp"

namespace caf {
class error;
} // namespace caf

namespace orasi {

class GatewayError : public std::runtime_error {
public:
  using Kind = errc;

  GatewayError(Kind kind, const std::string& message);

  Kind kind() const noexcept { return kind_; }

  /// The message without the kind prefix that what() carries.
  const std::string& message() const noexcept { return message_; }

  /// Converts a caf::error from the actors (our category or CAF's own).
  static GatewayError from(const caf::error& err);

private:
  Kind kind_;
  std::string message_;
};

} // namespace orasi
