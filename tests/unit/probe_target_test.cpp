// Joining an endpoint URL with the check path, and judging statuses.
#include <catch2/catch.hpp>

#include "actors/probe.hpp"
#include "messages/health_rules.hpp"
#include "messages/probe_messages.hpp"

using namespace orasi;

namespace {

probe_target join(const std::string& url, const std::string& path) {
  std::string error;
  auto target = make_probe_target(url, path, error);
  INFO(url << " + " << path << ": " << error);
  REQUIRE(target);
  return *target;
}

std::string join_error(const std::string& url) {
  std::string error;
  CHECK_FALSE(make_probe_target(url, "/health", error));
  return error;
}

} // namespace

TEST_CASE("probe target: the endpoint's path is a prefix of the check path",
          "[probe_target]") {
  CHECK(join("http://127.0.0.1:8080", "/health").path == "/health");
  CHECK(join("http://127.0.0.1:8080/", "/health").path == "/health");
  CHECK(join("http://h/api", "/health").path == "/api/health");
  CHECK(join("http://h/api/", "/health").path == "/api/health");
  CHECK(join("http://h/api//", "/health").path == "/api/health");
  CHECK(join("http://h/api?x=1#frag", "/health").path == "/api/health");
  CHECK(join("http://h", "/health?full=1").path == "/health?full=1");
  CHECK(join("http://h", "health").path == "/health");
}

TEST_CASE("probe target: ports, schemes, IPv6 and the Host header",
          "[probe_target]") {
  auto plain = join("http://example.com", "/h");
  CHECK_FALSE(plain.tls);
  CHECK(plain.host == "example.com");
  CHECK(plain.port == 80);
  CHECK(plain.host_header == "example.com");
  auto tls = join("HTTPS://example.com:8443/", "/h");
  CHECK(tls.tls);
  CHECK(tls.port == 8443);
  CHECK(tls.host_header == "example.com:8443");
  CHECK(join("https://example.com:443", "/h").host_header == "example.com");
  auto v6 = join("http://[::1]:9000/x", "/h");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 9000);
  CHECK(v6.host_header == "[::1]:9000");
  CHECK(v6.path == "/x/h");
  CHECK(to_url(v6) == "http://[::1]:9000/x/h");
  CHECK(join("http://[fe80::1]", "/h").host_header == "[fe80::1]");
}

TEST_CASE("probe target: URLs that cannot be probed say why",
          "[probe_target]") {
  CHECK(join_error("127.0.0.1:80") == "no scheme (expected http:// or "
                                      "https://)");
  CHECK(join_error("ftp://h/") == "unsupported scheme 'ftp'");
  CHECK(join_error("http://:80/") == "no host");
  CHECK(join_error("http://h:0/") == "invalid port '0'");
  CHECK(join_error("http://h:65536/") == "invalid port '65536'");
  CHECK(join_error("http://h:8x/") == "invalid port '8x'");
  CHECK(join_error("http://[::1/") == "unterminated IPv6 address");
  CHECK(join_error("http://user:pw@h/") ==
        "credentials in the URL are not supported");
}

TEST_CASE("probe statuses: expected ranges pass, 429 passes degraded",
          "[probe_target]") {
  std::vector<StatusRange> expected{StatusRange{200, 299}};
  bool degraded = true;
  CHECK(status_passes(200, expected, degraded));
  CHECK_FALSE(degraded);
  CHECK(status_passes(299, expected, degraded));
  CHECK_FALSE(status_passes(300, expected, degraded));
  CHECK_FALSE(status_passes(302, expected, degraded));
  CHECK_FALSE(status_passes(500, expected, degraded));
  CHECK(status_passes(429, expected, degraded));
  CHECK(degraded);
  CHECK(status_passes(302, {StatusRange{200, 299}, StatusRange{302, 302}},
                      degraded));
}

TEST_CASE("probe jitter: waits stay within interval +- jitter",
          "[probe_target]") {
  probe_rng rng{1};
  using namespace std::chrono_literals;
  for (int i = 0; i < 1000; ++i) {
    auto wait = jittered(10s, 0.2, rng);
    CHECK(wait >= 8s);
    CHECK(wait <= 12s);
  }
  CHECK(jittered(10s, 0, rng) == 10s);
}

TEST_CASE("probe target: URLs and paths that would go raw into a request "
          "are refused",
          "[probe_target]") {
  for (auto bad : {"http://h/a b", "http://h/\r\nX-Evil: 1", "http://h\t/",
                   "http://h/\x7f", "http://h/caf\xc3\xa9"}) {
    INFO(bad);
    CHECK(join_error(bad) ==
          "contains a space, a control or a non-ASCII character");
  }
  std::string error;
  CHECK_FALSE(make_probe_target("http://h", "/health\r\nX: y", error));
}
