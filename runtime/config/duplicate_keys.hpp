// Finds duplicate object keys in JSON text. Boost.JSON 1.81 keeps the last
// of duplicate keys silently; in a config that would hide a typo or drop a
// service, so the config loader rejects them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orasi {

/// The dotted path of the first duplicate key in `text` (e.g.
/// "service_discovery.services.web-1"), or std::nullopt if there is none or
/// the text is not JSON (the regular parser reports that).
std::optional<std::string> find_duplicate_key(std::string_view text);

} // namespace orasi
