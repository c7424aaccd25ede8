// The small parsers behind GatewayConfig: durations and listen addresses.
#include "runtime/config/gateway_config.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace Catch {

template <>
struct StringMaker<std::optional<orasi::Duration>> {
  static std::string convert(const std::optional<orasi::Duration>& x) {
    return x ? std::to_string(x->count()) + "ms" : "(rejected)";
  }
};

} // namespace Catch

TEST_CASE("duration: accepted spellings", "[duration]") {
  auto [text, millis] = GENERATE(table<std::string, int64_t>({
      {"250ms", 250},
      {"0ms", 0},
      {"1ms", 1},
      {"30s", 30'000},
      {"1.5s", 1'500},
      {"0.25s", 250},
      {"0.001s", 1},
      {"1.1s", 1'100},
      {"2m", 120'000},
      {"1.5m", 90'000},
      {"1h", 3'600'000},
      {"0.5h", 1'800'000},
      {"24h", 86'400'000},
      {"007s", 7'000},
  }));
  CAPTURE(text);
  CHECK(parse_duration(text) == std::optional<Duration>{Duration{millis}});
}

TEST_CASE("duration: malformed spellings are rejected", "[duration]") {
  auto text = GENERATE(as<std::string>{}, "", "s", "ms", "10", "5d", "30x",
                       "abc", "-5s", "+5s", "1.5.2s", ".5s", "5.s", "1.0001s",
                       "0.5ms", "1.5ms", " 30s", "30s ", "30 s", "30S", "1e3ms",
                       "30sec", "1m30s", "0x10s", "99999999999999999h");
  CAPTURE(text);
  CHECK(parse_duration(text) == std::optional<Duration>{});
}

// Regression: parse_duration once multiplied a double by the unit, so
// "2.01s" (2009.9999999999998 ms) was rejected.
TEST_CASE("duration: exact millisecond fractions are accepted", "[duration]") {
  CHECK(parse_duration("2.01s") == std::optional<Duration>{2'010ms});
}

TEST_CASE("duration: more exact millisecond fractions are accepted",
          "[duration]") {
  CHECK(parse_duration("16.1s") == std::optional<Duration>{16'100ms});
}

TEST_CASE("duration: format_duration", "[duration]") {
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(0ms) == "0ms");
  CHECK(format_duration(1ms) == "1ms");
  CHECK(format_duration(1'500ms) == "1500ms");
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(2min) == "120s");
  CHECK(format_duration(1h) == "3600s");
}

TEST_CASE("duration: format_duration output parses back", "[duration]") {
  auto millis = GENERATE(as<int64_t>{}, 0, 1, 999, 1'000, 1'001, 30'000, 90'000,
                         3'600'000, 86'400'000);
  Duration value{millis};
  CAPTURE(millis, format_duration(value));
  CHECK(parse_duration(format_duration(value)) ==
        std::optional<Duration>{value});
}

TEST_CASE("listen address: accepted forms", "[listen_address]") {
  auto [text, host, port] = GENERATE(table<std::string, std::string, uint16_t>({
      {"127.0.0.1:9650", "127.0.0.1", 9650},
      {"localhost:0", "localhost", 0},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
      {"[::1]:8080", "::1", 8080},
      {"[::]:1", "::", 1},
      {"example.com:00080", "example.com", 80},
  }));
  CAPTURE(text);
  std::string parsed_host = "unchanged";
  uint16_t parsed_port = 12345;
  REQUIRE(parse_listen_address(text, parsed_host, parsed_port));
  CHECK(parsed_host == host);
  CHECK(parsed_port == port);
}

TEST_CASE("listen address: malformed forms are rejected", "[listen_address]") {
  auto text = GENERATE(as<std::string>{}, "", "nohost", ":9650",
                       "h:", "h:99999", "h:65536", "h:123456", "h:12a", "h:-1",
                       "h: 80", "[::1:80", "[]:80", "[::1]x:80");
  CAPTURE(text);
  std::string host;
  uint16_t port = 0;
  CHECK_FALSE(parse_listen_address(text, host, port));
}
