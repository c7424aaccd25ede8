// Standard base64 (RFC 4648, with padding): etcd's JSON gateway carries keys
// and values as base64 strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orasi::backends {

std::string base64_encode(std::string_view bytes);

/// std::nullopt if `text` is not canonical padded base64 (wrong length,
/// characters outside the alphabet, misplaced '=').
std::optional<std::string> base64_decode(std::string_view text);

} // namespace orasi::backends
