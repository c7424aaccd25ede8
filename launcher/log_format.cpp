#include "launcher/log_format.hpp"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace orasi {

namespace {

/// The length of the valid UTF-8 sequence at `text`, 0 if it is not one.
size_t utf8_sequence_length(const char* text, size_t available) {
  auto lead = static_cast<unsigned char>(text[0]);
  size_t length = lead >= 0xF0 && lead <= 0xF4   ? 4
                  : lead >= 0xE0                 ? 3
                  : lead >= 0xC2 && lead <= 0xDF ? 2
                                                 : 0;
  if (lead >= 0xF5 || length == 0 || length > available)
    return 0;
  for (size_t k = 1; k < length; ++k)
    if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80)
      return 0;
  return length;
}

/// The message as a JSON string body: quotes, backslashes and control
/// characters escaped (log messages quote ids and carry peers' texts).
class json_escaped_message : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char hex[] = "0123456789abcdef";
    const auto* text = msg.payload.data();
    auto size = msg.payload.size();
    for (size_t i = 0; i < size;) {
      auto byte = static_cast<unsigned char>(text[i]);
      if (byte == '"' || byte == '\\') {
        dest.push_back('\\');
        dest.push_back(static_cast<char>(byte));
      } else if (byte < 0x20) {
        const char escape[] = {'\\',           'u',           '0', '0',
                               hex[byte >> 4], hex[byte & 15]};
        dest.append(escape, escape + sizeof(escape));
      } else if (byte >= 0x80) {
        // Peers' texts may hold invalid UTF-8: pass valid sequences, put
        // U+FFFD for the rest, so that every line stays valid JSON.
        auto length = utf8_sequence_length(text + i, size - i);
        if (length == 0) {
          const char replacement[] = "\\ufffd";
          dest.append(replacement, replacement + 6);
          ++i;
          continue;
        }
        dest.append(text + i, text + i + length);
        i += length;
        continue;
      } else {
        dest.push_back(static_cast<char>(byte));
      }
      ++i;
    }
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_escaped_message>();
  }
};

} // namespace

bool set_log_format(const std::string& format) {
  if (format == "text")
    return true; // spdlog's default
  if (format != "json")
    return false;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<json_escaped_message>('*').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","message":"%*"})");
  spdlog::set_formatter(std::move(formatter));
  return true;
}

} // namespace orasi
