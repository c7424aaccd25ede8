#include "runtime/log_format.hpp"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace orasi {

namespace {

/// The message as a JSON string body: quotes, backslashes and control
/// characters escaped (log messages quote ids and carry peers' texts).
class json_escaped_message : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char hex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      auto byte = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (byte < 0x20) {
        const char escape[] = {'\\',           'u',           '0', '0',
                               hex[byte >> 4], hex[byte & 15]};
        dest.append(escape, escape + sizeof(escape));
      } else {
        dest.push_back(c);
      }
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
