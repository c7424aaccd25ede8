#include "backends/base64.hpp"

#include <array>
#include <cstdint>

namespace orasi::backends {

namespace {

constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// 0..63 for alphabet characters, -1 otherwise.
constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& entry : table)
    entry = -1;
  for (int i = 0; i < 64; ++i)
    table[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr auto decode_table = make_decode_table();

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16 |
                     static_cast<uint8_t>(bytes[i + 1]) << 8 |
                     static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[group >> 18 & 63];
    out += alphabet[group >> 12 & 63];
    out += alphabet[group >> 6 & 63];
    out += alphabet[group & 63];
  }
  auto rest = bytes.size() - i;
  if (rest == 0)
    return out;
  uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
  if (rest == 2)
    group |= static_cast<uint8_t>(bytes[i + 1]) << 8;
  out += alphabet[group >> 18 & 63];
  out += alphabet[group >> 12 & 63];
  out += rest == 2 ? alphabet[group >> 6 & 63] : '=';
  out += '=';
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    // Padding may only end the last group: "xx==" or "xxx=".
    size_t padding = 0;
    if (last && text[i + 3] == '=')
      padding = text[i + 2] == '=' ? 2 : 1;
    uint32_t group = 0;
    for (size_t k = 0; k < 4 - padding; ++k) {
      auto value = decode_table[static_cast<uint8_t>(text[i + k])];
      if (value < 0)
        return std::nullopt;
      group = group << 6 | static_cast<uint32_t>(value);
    }
    group <<= 6 * padding;
    out += static_cast<char>(group >> 16 & 0xFF);
    if (padding < 2)
      out += static_cast<char>(group >> 8 & 0xFF);
    if (padding < 1)
      out += static_cast<char>(group & 0xFF);
  }
  return out;
}

} // namespace orasi::backends
