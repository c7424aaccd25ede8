// Decoding errors: every rejection is errc::serialization with a message that
// names the path of the field at fault.
#include <boost/json.hpp>

#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "unit/unit_support.hpp"

namespace json = boost::json;

using namespace orasi;

namespace {

/// The error message from decoding `text` under path "svc"; fails the test if
/// decoding succeeds or the error is not ours.
std::string decode_error(const std::string& text,
                         unknown_fields mode = unknown_fields::ignore) {
  auto decoded = decode_service(std::string_view{text}, "svc", mode);
  if (decoded)
    FAIL("decoded without error: " << text);
  CHECK(is_orasi_error(decoded.error()));
  CHECK(decoded.error().code() == static_cast<uint8_t>(errc::serialization));
  return error_message(decoded.error());
}

} // namespace

TEST_CASE("json codec: a negative weight names the field path",
          "[json_codec][errors]") {
  auto message = decode_error(
      R"({"name":"a","endpoints":[{"url":"http://h:1","weight":-1}]})");
  CHECK_THAT(message, Catch::Contains("svc.endpoints[0].weight"));
}

TEST_CASE("json codec: wrong types name the field path",
          "[json_codec][errors]") {
  auto [text, field] = GENERATE(table<std::string, std::string>({
      {R"({"name":5})", "svc.name"},
      {R"({"name":null})", "svc.name"},
      {R"({"name":"a","endpoints":{}})", "svc.endpoints"},
      {R"({"name":"a","endpoints":"http://h:1"})", "svc.endpoints"},
      {R"({"name":"a","endpoints":[42]})", "svc.endpoints[0]"},
      {R"({"name":"a","metadata":{"k":1}})", "svc.metadata.k"},
      {R"({"name":"a","metadata":["k"]})", "svc.metadata"},
      {R"({"name":"a","endpoints":[{"url":"http://h:1","metadata":{"k":true}}]})",
       "svc.endpoints[0].metadata.k"},
      {R"({"name":"a","health_status":"Sick"})", "svc.health_status"},
      {R"({"name":"a","health_status":1})", "svc.health_status"},
      {R"({"name":"a","endpoints":[{"url":"http://h:1","health_status":"Sick"}]})",
       "svc.endpoints[0].health_status"},
      {R"({"name":"a","endpoints":[{"url":"http://h:1","weight":"1"}]})",
       "svc.endpoints[0].weight"},
      {R"({"name":"a","endpoints":[{"url":"http://h:1","weight":1.5}]})",
       "svc.endpoints[0].weight"},
      {R"({"name":"a","endpoints":[{"url":"http://h:1","weight":4294967296}]})",
       "svc.endpoints[0].weight"},
      {R"({"name":"a","endpoints":[{"url":7}]})", "svc.endpoints[0].url"},
  }));
  CAPTURE(text);
  CHECK_THAT(decode_error(text), Catch::Contains(field));
}

TEST_CASE("json codec: an unknown enum value is quoted in the message",
          "[json_codec][errors]") {
  auto message = decode_error(R"({"name":"a","health_status":"Sick"})");
  CHECK_THAT(message, Catch::Contains("Sick"));
}

TEST_CASE("json codec: a weight beyond int64 is an error, not an exception",
          "[json_codec][errors]") {
  // Regression: a uint64 weight beyond int64 once threw boost's system_error;
  // backend data is untrusted, so that exception could reach an actor.
  std::string message;
  REQUIRE_NOTHROW(
      message = decode_error(R"({"name":"a","endpoints":[{"url":"http://h:1",)"
                             R"("weight":18446744073709551615}]})"));
  CHECK_THAT(message, Catch::Contains("svc.endpoints[0].weight"));
}

TEST_CASE("json codec: missing required fields", "[json_codec][errors]") {
  SECTION("name") {
    CHECK_THAT(decode_error(R"({"endpoints":[]})"),
               Catch::Contains("svc.name"));
  }
  SECTION("empty name") {
    CHECK_THAT(decode_error(R"({"name":""})"), Catch::Contains("svc.name"));
  }
  SECTION("url of the first endpoint") {
    CHECK_THAT(decode_error(R"({"name":"a","endpoints":[{"weight":1}]})"),
               Catch::Contains("svc.endpoints[0].url"));
  }
  SECTION("url of a later endpoint") {
    CHECK_THAT(
        decode_error(
            R"({"name":"a","endpoints":[{"url":"http://h:1"},{"weight":1}]})"),
        Catch::Contains("svc.endpoints[1].url"));
  }
}

TEST_CASE("json codec: endpoint urls must be http(s) with a host",
          "[json_codec][errors]") {
  auto url = GENERATE(as<std::string>{}, "ftp://x", "ftp://h:21/file",
                      "file:///etc/passwd", "h:8080", "not a url", "",
                      "http://", "https://", "http://:8080", "http:///path");
  CAPTURE(url);
  CHECK_THAT(
      decode_error(R"({"name":"a","endpoints":[{"url":")" + url + "\"}]}"),
      Catch::Contains("svc.endpoints[0].url"));
}

TEST_CASE("json codec: the url error says what is wrong",
          "[json_codec][errors]") {
  CHECK_THAT(decode_error(R"({"name":"a","endpoints":[{"url":"ftp://x"}]})"),
             Catch::Contains("ftp"));
  CHECK_THAT(decode_error(R"({"name":"a","endpoints":[{"url":"http://:1"}]})"),
             Catch::Contains("host"));
}

TEST_CASE("json codec: accepted endpoint urls", "[json_codec]") {
  auto url = GENERATE(as<std::string>{}, "http://h", "http://h:1",
                      "https://127.0.0.1:8443/base/path", "http://[::1]:8080",
                      "http://user@host:80");
  CAPTURE(url);
  auto decoded =
      decode_service(R"({"name":"a","endpoints":[{"url":")" + url + "\"}]}");
  REQUIRE(decoded);
  CHECK(decoded->endpoints.at(0).url == url);
}

TEST_CASE("json codec: malformed JSON text", "[json_codec][errors]") {
  auto text = GENERATE(as<std::string>{}, "", "{", R"({"name":)",
                       R"({"name":"a",})", R"({"name":"a"} trailing)",
                       R"({"name":"a"}{"name":"b"})", "nul");
  CAPTURE(text);
  auto message = decode_error(text);
  CHECK_THAT(message, Catch::StartsWith("svc"));
  CHECK_THAT(message, Catch::Contains("malformed JSON"));
}

TEST_CASE("json codec: a service must be an object", "[json_codec][errors]") {
  auto text = GENERATE(as<std::string>{}, "[]", "\"a\"", "null", "1");
  CAPTURE(text);
  CHECK_THAT(decode_error(text), Catch::StartsWith("svc"));
}

TEST_CASE("json codec: unknown fields", "[json_codec][errors]") {
  const std::string service_extra =
      R"({"name":"a","colour":"blue","endpoints":[{"url":"http://h:1"}]})";
  const std::string endpoint_extra =
      R"({"name":"a","endpoints":[{"url":"http://h:1","zone":"z"}]})";
  SECTION("ignored in ignore mode") {
    for (const auto& text : {service_extra, endpoint_extra}) {
      CAPTURE(text);
      auto decoded =
          decode_service(std::string_view{text}, "svc", unknown_fields::ignore);
      REQUIRE(decoded);
      CHECK(decoded->name == "a");
      REQUIRE(decoded->endpoints.size() == 1);
      CHECK(decoded->endpoints[0].url == "http://h:1");
    }
  }
  SECTION("ignore is the default") {
    CHECK(decode_service(std::string_view{service_extra}));
    CHECK(decode_service(json::parse(endpoint_extra), "svc"));
  }
  SECTION("rejected in reject mode, naming the field") {
    CHECK_THAT(decode_error(service_extra, unknown_fields::reject),
               Catch::Contains("svc.colour"));
    CHECK_THAT(decode_error(endpoint_extra, unknown_fields::reject),
               Catch::Contains("svc.endpoints[0].zone"));
  }
  SECTION("reject mode applies to every map entry") {
    auto value = json::parse(R"({"ok":{"name":"a"},"bad":{"name":"b","x":1}})");
    auto decoded = decode_services(value, "services", unknown_fields::reject);
    REQUIRE_FALSE(decoded);
    CHECK_THAT(error_message(decoded.error()),
               Catch::Contains("services.bad.x"));
    CHECK(decode_services(value, "services", unknown_fields::ignore));
  }
}

TEST_CASE("json codec: decode_services errors name the entry",
          "[json_codec][errors]") {
  SECTION("not an object") {
    auto decoded = decode_services(json::parse("[]"), "services");
    REQUIRE_FALSE(decoded);
    CHECK_THAT(error_message(decoded.error()), Catch::StartsWith("services"));
  }
  SECTION("a bad entry") {
    auto decoded = decode_services(
        json::parse(R"({"good":{"name":"a"},"bad":{"name":1}})"), "services");
    REQUIRE_FALSE(decoded);
    CHECK_THAT(error_message(decoded.error()),
               Catch::Contains("services.bad.name"));
  }
  SECTION("an invalid id") {
    auto id = GENERATE(as<std::string>{}, "", "a/b", std::string(300, 'x'),
                       "line\nbreak");
    json::object services;
    services[id] = json::object{{"name", "a"}};
    auto decoded = decode_services(services, "services");
    REQUIRE_FALSE(decoded);
    CHECK_THAT(error_message(decoded.error()),
               Catch::Contains("invalid service id"));
  }
}

TEST_CASE("json codec: service ids", "[json_codec]") {
  SECTION("valid") {
    auto id = GENERATE(as<std::string>{}, "a", "my-service-1", "svc.v2_a:b",
                       std::string(256, 'x'), "caf\xc3\xa9");
    CAPTURE(id);
    CHECK(is_valid_service_id(id));
  }
  SECTION("invalid") {
    auto id = GENERATE(as<std::string>{}, "", "a/b", "/", "a/",
                       std::string(257, 'x'), std::string(300, 'x'), "a\nb",
                       "tab\t", std::string{"nul\0x", 5}, "\x01", "del\x7f");
    CAPTURE(id);
    CHECK_FALSE(is_valid_service_id(id));
  }
}
