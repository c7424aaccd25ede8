#include "net/http_message.hpp"

#include <algorithm>
#include <cctype>

namespace orasi::net {

const char* to_string(request_failure failure) {
  switch (failure) {
  case request_failure::none:
    return "none";
  case request_failure::cancelled:
    return "cancelled";
  case request_failure::invalid_request:
    return "invalid_request";
  case request_failure::resolve_failed:
    return "resolve_failed";
  case request_failure::connect_failed:
    return "connect_failed";
  case request_failure::timeout:
    return "timeout";
  case request_failure::connection_lost:
    return "connection_lost";
  case request_failure::malformed_response:
    return "malformed_response";
  case request_failure::body_too_large:
    return "body_too_large";
  }
  return "unknown";
}

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

bool may_replay(const http_request& request) {
  // RFC 9110, 9.2.2: repeating one of these has the effect of sending it
  // once. The method is matched as sent (methods are case-sensitive).
  static constexpr std::string_view idempotent[] = {"GET", "HEAD", "PUT",
                                                    "DELETE", "OPTIONS"};
  return request.replayable ||
         std::find(std::begin(idempotent), std::end(idempotent),
                   request.method) != std::end(idempotent);
}

std::optional<std::string_view>
http_response::header(std::string_view name) const {
  for (const auto& [field, value] : headers)
    if (same_name(field, name))
      return std::string_view{value};
  return std::nullopt;
}

} // namespace orasi::net
