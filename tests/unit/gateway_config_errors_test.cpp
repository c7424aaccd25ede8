// GatewayConfig rejections: every invalid config throws GatewayError
// (config_invalid) whose message names the origin and the field at fault.
#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

/// The error from loading `text` as "test.json"; fails the test if it loads.
GatewayError config_error(const std::string& text) {
  try {
    GatewayConfig::from_json(text, "test.json");
  } catch (const GatewayError& err) {
    return err;
  }
  FAIL("config was accepted: " << text);
  throw std::logic_error{"unreachable"};
}

/// A config with `member` as the only member of "service_discovery".
std::string discovery(const std::string& member) {
  return R"({"service_discovery":{)" + member + "}}";
}

/// A config with one static service "my-service-1" whose JSON is `service`.
std::string with_service(const std::string& service) {
  return discovery(R"("services":{"my-service-1":)" + service + "}");
}

} // namespace

TEST_CASE("config errors: each names the field", "[config][errors]") {
  auto [text, field] = GENERATE(table<std::string, std::string>({
      // Backend.
      {discovery(R"("backend":"zookeeper")"), "service_discovery.backend"},
      {discovery(R"("backend":"")"), "service_discovery.backend"},
      {discovery(R"("backend":"Static")"), "service_discovery.backend"},
      {discovery(R"("backend":1)"), "service_discovery.backend"},
      // Thresholds and retries.
      {discovery(R"("health_check":{"success_threshold":0})"),
       "service_discovery.health_check.success_threshold"},
      {discovery(R"("health_check":{"failure_threshold":0})"),
       "service_discovery.health_check.failure_threshold"},
      {discovery(R"("health_check":{"success_threshold":-1})"),
       "service_discovery.health_check.success_threshold"},
      {discovery(R"("health_check":{"failure_threshold":2.5})"),
       "service_discovery.health_check.failure_threshold"},
      {discovery(R"("health_check":{"retries":"3"})"),
       "service_discovery.health_check.retries"},
      {discovery(R"("health_check":{"retries":11})"),
       "service_discovery.health_check.retries"},
      // Probing beyond the spec.
      {discovery(R"("health_check":{"enabled":"yes"})"),
       "service_discovery.health_check.enabled"},
      {discovery(R"("health_check":{"keep_alive":1})"),
       "service_discovery.health_check.keep_alive"},
      {discovery(R"("health_check":{"tls_verify":null})"),
       "service_discovery.health_check.tls_verify"},
      {discovery(R"("health_check":{"panic_threshold_percent":101})"),
       "service_discovery.health_check.panic_threshold_percent"},
      {discovery(R"("health_check":{"jitter_percent":51})"),
       "service_discovery.health_check.jitter_percent"},
      {discovery(R"("health_check":{"engine_threads":0})"),
       "service_discovery.health_check.engine_threads"},
      {discovery(R"("health_check":{"engine_threads":65})"),
       "service_discovery.health_check.engine_threads"},
      {discovery(R"("health_check":{"engine_threads":"2"})"),
       "service_discovery.health_check.engine_threads"},
      {discovery(R"("health_check":{"max_idle_connections":-1})"),
       "service_discovery.health_check.max_idle_connections"},
      {discovery(R"("health_check":{"engine_threads":4,)"
                 R"("max_idle_connections":3})"),
       "service_discovery.health_check.max_idle_connections"},
      {discovery(R"("health_check":{"fast_interval":"0s"})"),
       "service_discovery.health_check.fast_interval"},
      {discovery(R"("health_check":{"retry_backoff":"soon"})"),
       "service_discovery.health_check.retry_backoff"},
      {discovery(R"("health_check":{"path":"/a b"})"),
       "service_discovery.health_check.path"},
      {discovery(R"("health_check":{"expected_statuses":[]})"),
       "service_discovery.health_check.expected_statuses"},
      {discovery(R"("health_check":{"expected_statuses":200})"),
       "service_discovery.health_check.expected_statuses"},
      {discovery(R"("health_check":{"expected_statuses":[200,99]})"),
       "service_discovery.health_check.expected_statuses[1]"},
      {discovery(R"("health_check":{"expected_statuses":["300-200"]})"),
       "service_discovery.health_check.expected_statuses[0]"},
      {discovery(R"("health_check":{"expected_statuses":["2xx"]})"),
       "service_discovery.health_check.expected_statuses[0]"},
      {discovery(R"("health_check":{"expected_statuses":["200-600"]})"),
       "service_discovery.health_check.expected_statuses[0]"},
      {discovery(R"("health_check":{"expected_statuses":[true]})"),
       "service_discovery.health_check.expected_statuses[0]"},
      // Durations.
      {discovery(R"("refresh_interval":"30x")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":"abc")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":"")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":"-5s")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":"1.5.2s")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":30)"),
       "service_discovery.refresh_interval"},
      {discovery(R"("refresh_interval":"0s")"),
       "service_discovery.refresh_interval"},
      {discovery(R"("health_check_interval":"10")"),
       "service_discovery.health_check_interval"},
      {discovery(R"("health_check_interval":"0ms")"),
       "service_discovery.health_check_interval"},
      {discovery(R"("health_check":{"timeout":"5 s"})"),
       "service_discovery.health_check.timeout"},
      {discovery(R"("health_check":{"timeout":"0s"})"),
       "service_discovery.health_check.timeout"},
      {discovery(R"("health_check":{"interval":"5d"})"),
       "service_discovery.health_check.interval"},
      {discovery(R"("health_check":{"interval":"0s"})"),
       "service_discovery.health_check.interval"},
      // Wrong types.
      {discovery(R"("endpoints":"http://127.0.0.1:2379")"),
       "service_discovery.endpoints"},
      {discovery(R"("endpoints":["http://a:1",5])"),
       "service_discovery.endpoints[1]"},
      {discovery(R"("prefix":5)"), "service_discovery.prefix"},
      {discovery(R"("health_check":"fast")"), "service_discovery.health_check"},
      {discovery(R"("health_check":{"path":7})"),
       "service_discovery.health_check.path"},
      {R"({"service_discovery":[]})", "service_discovery"},
      {R"({"admin":"127.0.0.1:9650"})", "admin"},
      {R"({"admin":{"listen":9650}})", "admin.listen"},
      {R"({"logging":{"level":1}})", "logging.level"},
      // Unknown fields.
      {discovery(R"("refresh_intervall":"30s")"),
       "service_discovery.refresh_intervall"},
      {discovery(R"("health_check":{"treshold":1})"),
       "service_discovery.health_check.treshold"},
      {R"({"admn":{}})", "admn"},
      {R"({"admin":{"port":1}})", "admin.port"},
      {R"({"logging":{"format":"json"}})", "logging.format"},
      // Values.
      {R"({"admin":{"listen":"nohost"}})", "admin.listen"},
      // Duplicate keys (Boost.JSON would keep the last silently).
      {R"({"service_discovery":{"backend":"etcd","backend":"static"}})",
       "duplicate key \"service_discovery.backend\""},
      {R"({"service_discovery":{"services":{"a":{"name":"x"},"a":{"name":"y"}}}})",
       "duplicate key \"service_discovery.services.a\""},
      {R"({"admin":{"listen":"not a host!:80"}})", "admin.listen"},
      {R"({"admin":{"listen":"-x:80"}})", "admin.listen"},
      {R"({"admin":{"listen":"h:99999"}})", "admin.listen"},
      {R"({"admin":{"listen":":9650"}})", "admin.listen"},
      {R"({"admin":{"listen":"h:"}})", "admin.listen"},
      {R"({"logging":{"level":"loud"}})", "logging.level"},
      {R"({"logging":{"level":"INFO"}})", "logging.level"},
      {discovery(R"("prefix":"orasi")"), "service_discovery.prefix"},
      {discovery(R"("prefix":"")"), "service_discovery.prefix"},
      {discovery(R"("health_check":{"path":"health"})"),
       "service_discovery.health_check.path"},
      {discovery(R"("backend":"etcd","endpoints":[])"),
       "service_discovery.endpoints"},
      {discovery(R"("backend":"consul","endpoints":[])"),
       "service_discovery.endpoints"},
      {discovery(R"("backend":"etcd","endpoints":["127.0.0.1:2379"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","endpoints":["http://h:2379/v3"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","endpoints":["http://h:99999999999"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","endpoints":["http://h:0"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","endpoints":["http://h:"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","endpoints":["http://:2379"])"),
       "service_discovery.endpoints[0]"},
      {discovery(R"("backend":"etcd","etcd":{"lease_ttl":"1500ms"})"),
       "service_discovery.etcd.lease_ttl"},
      {discovery(R"("backend":"etcd","etcd":{"lease_ttl":"0s"})"),
       "service_discovery.etcd.lease_ttl"},
      {discovery(R"("backend":"etcd","etcd":{"password":"p"})"),
       "service_discovery.etcd.password"},
      {discovery(R"("backend":"etcd","etcd":{"cert_file":"/dev/null"})"),
       "service_discovery.etcd.key_file"},
      {discovery(R"("backend":"etcd","etcd":{"ca_file":"/nonexistent/ca"})"),
       "service_discovery.etcd.ca_file"},
      {discovery(R"("backend":"etcd","etcd":{"dial_timeout":"0s"})"),
       "service_discovery.etcd.dial_timeout"},
      {discovery(R"("etcd":{"lease":"15s"})"), "service_discovery.etcd.lease"},
      {discovery(R"("etcd":[])"), "service_discovery.etcd"},
      {discovery(R"("backend":"consul","consul":{"wait":"11m"})"),
       "service_discovery.consul.wait"},
      {discovery(R"("backend":"consul","consul":{"health_source":"x"})"),
       "service_discovery.consul.health_source"},
      {discovery(
           R"("backend":"consul","consul":{"deregister_critical_after":"30s"})"),
       "service_discovery.consul.deregister_critical_after"},
      {discovery(R"("backend":"consul","consul":{"tokn":"x"})"),
       "service_discovery.consul.tokn"},
      // Static services.
      {with_service(R"({"name":"a","endpoints":[{"url":"ftp://x"}]})"),
       "service_discovery.services.my-service-1.endpoints[0].url"},
      {with_service(R"({"name":"a","endpoints":[{"weight":1}]})"),
       "service_discovery.services.my-service-1.endpoints[0].url"},
      {with_service(R"({"endpoints":[]})"),
       "service_discovery.services.my-service-1.name"},
      {with_service(
           R"({"name":"a","endpoints":[{"url":"http://h:1","wieght":2}]})"),
       "service_discovery.services.my-service-1.endpoints[0].wieght"},
      {with_service(R"({"name":"a","health_status":"Sick"})"),
       "service_discovery.services.my-service-1.health_status"},
      {with_service(R"({"name":"a","tags":[]})"),
       "service_discovery.services.my-service-1.tags"},
      // Resource bounds.
      {discovery(R"("limits":{"max_services":0})"),
       "service_discovery.limits.max_services"},
      {discovery(R"("limits":{"max_endpoints":-5})"),
       "service_discovery.limits.max_endpoints"},
      {discovery(R"("limits":{"max_endpoints":2000000})"),
       "service_discovery.limits.max_endpoints"},
      {discovery(R"("limits":{"max_response_bytes":1000})"),
       "service_discovery.limits.max_response_bytes"},
      {discovery(R"("limits":{"max_response_bytes":"64MiB"})"),
       "service_discovery.limits.max_response_bytes"},
      {discovery(R"("limits":{"max_services":10,"max_sevices":1})"),
       "service_discovery.limits.max_sevices"},
      {discovery(R"("services":[])"), "service_discovery.services"},
      {discovery(R"("services":{"a/b":{"name":"a"}})"),
       "service_discovery.services.a/b"},
  }));
  CAPTURE(text);
  auto err = config_error(text);
  CHECK(err.kind() == errc::config_invalid);
  CHECK_THAT(err.message(), Catch::Contains(field));
  CHECK_THAT(err.message(), Catch::StartsWith("test.json"));
  CHECK_THAT(std::string{err.what()}, Catch::Contains(field));
  CHECK_THAT(std::string{err.what()}, Catch::StartsWith("config_invalid"));
}

TEST_CASE("config errors: a bad duration is quoted", "[config][errors]") {
  auto err = config_error(discovery(R"("refresh_interval":"30x")"));
  CHECK_THAT(err.message(), Catch::Contains("\"30x\""));
}

TEST_CASE("config errors: malformed JSON names the origin and the line",
          "[config][errors]") {
  SECTION("error on the first line") {
    auto err = config_error(R"({"admin": )");
    CHECK(err.kind() == errc::config_invalid);
    CHECK_THAT(err.message(), Catch::Contains("test.json"));
    CHECK_THAT(err.message(), Catch::Contains("line 1"));
  }
  SECTION("error on a later line") {
    auto err = config_error("{\n  \"logging\": {\n    \"level\": \"info\",\n"
                            "  }\n}\n");
    CHECK_THAT(err.message(), Catch::Contains("test.json"));
    CHECK_THAT(err.message(), Catch::Contains("line 4"));
  }
  SECTION("empty text") {
    auto err = config_error("");
    CHECK_THAT(err.message(), Catch::Contains("test.json"));
    CHECK_THAT(err.message(), Catch::Contains("malformed JSON"));
  }
  SECTION("not an object") {
    CHECK_THAT(config_error("[]").message(), Catch::Contains("test.json"));
    CHECK_THAT(config_error("\"text\"").message(),
               Catch::Contains("test.json"));
  }
}

TEST_CASE("config errors: data after the object is malformed",
          "[config][errors]") {
  auto text = GENERATE(as<std::string>{}, R"({} {"logging":{"level":"x"}})",
                       R"({"logging":{"level":"info"}} garbage)");
  CAPTURE(text);
  auto err = config_error(text);
  CHECK_THAT(err.message(), Catch::Contains("test.json"));
  CHECK_THAT(err.message(), Catch::Contains("malformed JSON"));
}

TEST_CASE("config errors: a huge integer is a config error",
          "[config][errors]") {
  // Regression: a uint64 beyond int64 once threw boost's system_error.
  auto text = discovery(R"("health_check":{"retries":18446744073709551615})");
  GatewayError err{errc::not_running, "not thrown"};
  REQUIRE_NOTHROW(err = config_error(text));
  CHECK(err.kind() == errc::config_invalid);
  CHECK_THAT(err.message(),
             Catch::Contains("service_discovery.health_check.retries"));
}
