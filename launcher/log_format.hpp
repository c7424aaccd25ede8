// Log line formats of the launcher: spdlog's default text, or one JSON
// object per line ({"time", "level", "message"}) for log shippers.
#pragma once

#include <string>

namespace orasi {

/// "text" or "json"; false for anything else.
bool set_log_format(const std::string& format);

} // namespace orasi
