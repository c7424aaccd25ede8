// GatewayConfig: defaults, the full example, overrides and loading files.
#include <filesystem>

#include "probing/health_checker.hpp"
#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"
#include "unit/unit_support.hpp"

namespace Catch {

template <>
struct StringMaker<orasi::ServiceDiscoveryBackend> {
  static std::string convert(orasi::ServiceDiscoveryBackend x) {
    return orasi::to_string(x);
  }
};

} // namespace Catch

using namespace orasi;
using namespace std::chrono_literals;

namespace {

constexpr auto example_config = R"({
  "service_discovery": {
    "backend": "static",
    "endpoints": ["http://127.0.0.1:2379"],
    "prefix": "/orasi",
    "refresh_interval": "30s",
    "health_check_interval": "10s",
    "health_check": {
      "path": "/health",
      "timeout": "5s",
      "retries": 3,
      "success_threshold": 2,
      "failure_threshold": 3
    },
    "services": {
      "my-service-1": {
        "name": "my-service",
        "endpoints": [
          {
            "url": "http://127.0.0.1:8080",
            "weight": 1,
            "health_status": "Unknown",
            "metadata": {}
          }
        ],
        "health_status": "Unknown",
        "metadata": {}
      }
    }
  },
  "admin": {"listen": "127.0.0.1:9650"},
  "logging": {"level": "info"}
})";

void check_defaults(const GatewayConfig& config) {
  const auto& sd = config.service_discovery;
  CHECK(sd.backend == ServiceDiscoveryBackend::Static);
  CHECK(sd.endpoints == std::vector<std::string>{"http://127.0.0.1:2379"});
  CHECK(sd.prefix == "/orasi");
  CHECK(sd.refresh_interval == 30s);
  CHECK(sd.health_check_interval == 10s);
  CHECK(sd.effective_health_check_interval() == 10s);
  CHECK(sd.health_check.health_check_path == "/health");
  CHECK(sd.health_check.timeout == 5s);
  CHECK(sd.health_check.retries == 3);
  CHECK(sd.health_check.success_threshold == 2);
  CHECK(sd.health_check.failure_threshold == 3);
  CHECK_FALSE(sd.health_check.interval.has_value());
  CHECK(sd.services.empty());
  CHECK(sd.limits.max_services == 50'000);
  CHECK(sd.limits.max_endpoints == 100'000);
  CHECK(sd.limits.max_response_bytes == 64u << 20);
  CHECK(config.admin.listen == "127.0.0.1:9650");
  CHECK(config.logging.level == "info");
}

} // namespace

TEST_CASE("config: an empty object gives the defaults", "[config]") {
  auto config = GatewayConfig::from_json("{}");
  check_defaults(config);
  CHECK(config.source_file.empty());
}

TEST_CASE("config: empty sections give the defaults", "[config]") {
  check_defaults(GatewayConfig::from_json(
      R"({"service_discovery":{"health_check":{}},"admin":{},"logging":{}})"));
}

TEST_CASE("config: a default-constructed config is valid", "[config]") {
  GatewayConfig config;
  check_defaults(config);
  CHECK_NOTHROW(config.validate());
}

TEST_CASE("config: the full example parses with every field", "[config]") {
  auto config = GatewayConfig::from_json(example_config, "example.json");
  const auto& sd = config.service_discovery;
  CHECK(sd.backend == ServiceDiscoveryBackend::Static);
  CHECK(sd.endpoints == std::vector<std::string>{"http://127.0.0.1:2379"});
  CHECK(sd.prefix == "/orasi");
  CHECK(sd.refresh_interval == 30s);
  CHECK(sd.health_check_interval == 10s);
  CHECK(sd.health_check.health_check_path == "/health");
  CHECK(sd.health_check.timeout == 5s);
  CHECK(sd.health_check.retries == 3);
  CHECK(sd.health_check.success_threshold == 2);
  CHECK(sd.health_check.failure_threshold == 3);
  CHECK(config.admin.listen == "127.0.0.1:9650");
  CHECK(config.logging.level == "info");

  ServiceInfo expected;
  expected.name = "my-service";
  expected.endpoints = {test::endpoint("http://127.0.0.1:8080")};
  REQUIRE(sd.services.size() == 1);
  CHECK(sd.services.at("my-service-1") == expected);
}

TEST_CASE("config: every field is read, not just defaulted", "[config]") {
  auto config = GatewayConfig::from_json(R"({
    "service_discovery": {
      "backend": "etcd",
      "endpoints": ["http://127.0.0.1:2379", "https://127.0.0.2:2379"],
      "prefix": "/custom/prefix",
      "refresh_interval": "2m",
      "health_check_interval": "1500ms",
      "health_check": {
        "path": "/ready",
        "timeout": "250ms",
        "retries": 0,
        "success_threshold": 5,
        "failure_threshold": 7,
        "interval": "1h"
      },
      "etcd": {
        "lease_ttl": "30s",
        "watch": false,
        "dial_timeout": "750ms",
        "request_timeout": "3s",
        "username": "orasi",
        "password": "secret",
        "ca_file": "/dev/null",
        "cert_file": "/dev/null",
        "key_file": "/dev/null"
      },
      "limits": {
        "max_services": 10,
        "max_endpoints": 20,
        "max_response_bytes": 1048576
      }
    },
    "admin": {"listen": "[::1]:0"},
    "logging": {"level": "debug"}
  })");
  const auto& sd = config.service_discovery;
  CHECK(sd.backend == ServiceDiscoveryBackend::Etcd);
  CHECK(sd.endpoints == std::vector<std::string>{"http://127.0.0.1:2379",
                                                 "https://127.0.0.2:2379"});
  CHECK(sd.prefix == "/custom/prefix");
  CHECK(sd.refresh_interval == 2min);
  CHECK(sd.health_check_interval == 1500ms);
  CHECK(sd.health_check.health_check_path == "/ready");
  CHECK(sd.health_check.timeout == 250ms);
  CHECK(sd.health_check.retries == 0);
  CHECK(sd.health_check.success_threshold == 5);
  CHECK(sd.health_check.failure_threshold == 7);
  CHECK(sd.health_check.interval == std::optional<Duration>{1h});
  CHECK(sd.etcd.lease_ttl == 30s);
  CHECK_FALSE(sd.etcd.watch);
  CHECK(sd.etcd.dial_timeout == 750ms);
  CHECK(sd.etcd.request_timeout == 3s);
  CHECK(sd.etcd.username == "orasi");
  CHECK(sd.etcd.password == "secret");
  CHECK(sd.etcd.ca_file == "/dev/null");
  CHECK(sd.etcd.cert_file == "/dev/null");
  CHECK(sd.etcd.key_file == "/dev/null");
  CHECK(sd.limits.max_services == 10);
  CHECK(sd.limits.max_endpoints == 20);
  CHECK(sd.limits.max_response_bytes == 1048576);
  CHECK(config.admin.listen == "[::1]:0");
  CHECK(config.logging.level == "debug");
}

TEST_CASE("config: backend names", "[config]") {
  auto [name, backend] = GENERATE(table<std::string, ServiceDiscoveryBackend>(
      {{"static", ServiceDiscoveryBackend::Static},
       {"etcd", ServiceDiscoveryBackend::Etcd},
       {"consul", ServiceDiscoveryBackend::Consul}}));
  CAPTURE(name);
  auto config = GatewayConfig::from_json(
      R"({"service_discovery":{"backend":")" + name + "\"}}");
  CHECK(config.service_discovery.backend == backend);
  CHECK(to_string(backend) == name);
}

TEST_CASE("config: every logging level is accepted", "[config]") {
  auto level = GENERATE(as<std::string>{}, "trace", "debug", "info", "warn",
                        "error", "critical", "off");
  auto config =
      GatewayConfig::from_json(R"({"logging":{"level":")" + level + "\"}}");
  CHECK(config.logging.level == level);
}

TEST_CASE("config: health_check.interval overrides health_check_interval",
          "[config]") {
  SECTION("only health_check_interval") {
    auto config = GatewayConfig::from_json(
        R"({"service_discovery":{"health_check_interval":"7s"}})");
    CHECK(config.service_discovery.effective_health_check_interval() == 7s);
  }
  SECTION("both: the nested one wins") {
    auto config = GatewayConfig::from_json(
        R"({"service_discovery":{"health_check_interval":"10s",
          "health_check":{"interval":"250ms"}}})");
    CHECK(config.service_discovery.health_check_interval == 10s);
    CHECK(config.service_discovery.effective_health_check_interval() == 250ms);
  }
  SECTION("only the nested one") {
    auto config = GatewayConfig::from_json(
        R"({"service_discovery":{"health_check":{"interval":"3s"}}})");
    CHECK(config.service_discovery.effective_health_check_interval() == 3s);
  }
  SECTION("set in code") {
    ServiceDiscoveryConfig sd;
    sd.health_check_interval = 4s;
    CHECK(sd.effective_health_check_interval() == 4s);
    sd.health_check.interval = 9s;
    CHECK(sd.effective_health_check_interval() == 9s);
  }
}

TEST_CASE("config: the probing fields beyond the spec", "[config]") {
  auto defaults = GatewayConfig{}.service_discovery.health_check;
  CHECK(defaults.enabled);
  CHECK(defaults.jitter_percent == 10);
  CHECK(defaults.fast_interval == 1s);
  CHECK(defaults.retry_backoff == 100ms);
  CHECK(defaults.keep_alive);
  CHECK_FALSE(defaults.tls_verify);
  CHECK(defaults.panic_threshold_percent == 0);
  CHECK(defaults.engine_threads == 1);
  CHECK(defaults.max_idle_connections == 0);
  CHECK(defaults.expected_statuses == std::vector<StatusRange>{{200, 299}});
  auto config = GatewayConfig::from_json(
      R"({"service_discovery":{"health_check":{"enabled":false,
        "jitter_percent":25,"fast_interval":"500ms","retry_backoff":"0ms",
        "keep_alive":false,"tls_verify":true,"panic_threshold_percent":60,
        "engine_threads":64,"max_idle_connections":500,
        "expected_statuses":[204,"300-399"]}}})");
  const auto& hc = config.service_discovery.health_check;
  CHECK_FALSE(hc.enabled);
  CHECK(hc.jitter_percent == 25);
  CHECK(hc.fast_interval == 500ms);
  CHECK(hc.retry_backoff == 0ms);
  CHECK_FALSE(hc.keep_alive);
  CHECK(hc.tls_verify);
  CHECK(hc.panic_threshold_percent == 60);
  CHECK(hc.engine_threads == 64);
  CHECK(hc.max_idle_connections == 500);
  CHECK(hc.expected_statuses ==
        std::vector<StatusRange>{{204, 204}, {300, 399}});
  CHECK(hc != defaults);
}

TEST_CASE("config: the spec's checkers carry their policy", "[config]") {
  HealthChecker basic{3s, "/ping"};
  CHECK(basic.config().timeout == 3s);
  CHECK(basic.config().health_check_path == "/ping");
  CHECK(basic.config().retries == 0);
  CHECK(basic.config().success_threshold == 1);
  CHECK(basic.config().failure_threshold == 1);
  CHECK_FALSE(basic.config().interval);
  AdvancedHealthChecker advanced{
      HealthCheckConfig{5s, "/health", 30s, 3, 2, 3}};
  CHECK(advanced.config().interval == Duration{30s});
  CHECK(advanced.config().retries == 3);
  CHECK(advanced.config().success_threshold == 2);
  CHECK(advanced.config().failure_threshold == 3);
}

TEST_CASE("config: the running config a reload compares with holds no "
          "services",
          "[config]") {
  auto config = GatewayConfig::from_json(R"({
    "service_discovery": {
      "backend": "etcd",
      "prefix": "/custom/prefix",
      "health_check": {"path": "/ready", "retries": 0},
      "etcd": {"username": "orasi", "lease_ttl": "30s"},
      "services": {"a": {"name": "a", "endpoints": [
        {"url": "http://127.0.0.1:8080"}]}}
    },
    "admin": {"listen": "[::1]:0"},
    "logging": {"level": "debug"}
  })");
  config.source_file = "/etc/orasi.json";
  auto kept = restart_only_fields(config);
  CHECK(kept.service_discovery.services.empty());
  CHECK(kept.source_file == "/etc/orasi.json");
  // Every field a reload cannot apply is carried over...
  CHECK(restart_only_changes(config, kept).empty());
  CHECK(kept.service_discovery.etcd.username == "orasi");
  CHECK(kept.service_discovery.health_check.health_check_path == "/ready");
  // ...and differs from the defaults here, so a field left out would show.
  CHECK(restart_only_changes(GatewayConfig{}, kept) ==
        "service_discovery.backend, service_discovery.prefix, "
        "service_discovery.health_check, service_discovery.etcd, "
        "admin.listen, logging.level");
}

TEST_CASE("config: the static backend ignores its endpoints list", "[config]") {
  auto config = GatewayConfig::from_json(
      R"({"service_discovery":{"backend":"static","endpoints":[]}})");
  CHECK(config.service_discovery.endpoints.empty());
}

TEST_CASE("config: from_file reads a file and remembers it", "[config]") {
  test::temp_file file{example_config};
  auto config = GatewayConfig::from_file(file.path());
  CHECK(config.source_file == file.path());
  CHECK(config.service_discovery.services.count("my-service-1") == 1);
  CHECK(config.admin.listen == "127.0.0.1:9650");
}

TEST_CASE("config: from_file errors name the file", "[config]") {
  SECTION("a file that does not exist") {
    auto path = (std::filesystem::temp_directory_path() /
                 "orasi-unit-no-such-dir" / "missing.json")
                    .string();
    try {
      GatewayConfig::from_file(path);
      FAIL("loaded a missing file");
    } catch (const GatewayError& err) {
      CHECK(err.kind() == errc::config_invalid);
      CHECK_THAT(err.message(), Catch::Contains(path));
    }
  }
  SECTION("an invalid field") {
    test::temp_file file{R"({"logging":{"level":"loud"}})"};
    try {
      GatewayConfig::from_file(file.path());
      FAIL("loaded an invalid file");
    } catch (const GatewayError& err) {
      CHECK(err.kind() == errc::config_invalid);
      CHECK_THAT(err.message(), Catch::Contains(file.path()));
      CHECK_THAT(err.message(), Catch::Contains("logging.level"));
    }
  }
  SECTION("malformed JSON") {
    test::temp_file file{"{\n  \"admin\": {\n    \"listen\": ,\n  }\n}\n"};
    try {
      GatewayConfig::from_file(file.path());
      FAIL("loaded a malformed file");
    } catch (const GatewayError& err) {
      CHECK(err.kind() == errc::config_invalid);
      CHECK_THAT(err.message(), Catch::Contains(file.path()));
      CHECK_THAT(err.message(), Catch::Contains("line 3"));
    }
  }
}

TEST_CASE("config: validate() checks a config built in code", "[config]") {
  GatewayConfig config;
  SECTION("bad listen address") {
    config.admin.listen = "nohost";
    REQUIRE_THROWS_AS(config.validate(), GatewayError);
    try {
      config.validate();
    } catch (const GatewayError& err) {
      CHECK(err.kind() == errc::config_invalid);
      CHECK_THAT(err.message(), Catch::Contains("admin.listen"));
    }
  }
  SECTION("zero threshold") {
    config.service_discovery.health_check.failure_threshold = 0;
    CHECK_THROWS_WITH(
        config.validate(),
        Catch::Contains("service_discovery.health_check.failure_threshold"));
  }
  SECTION("zero interval") {
    config.service_discovery.refresh_interval = Duration{0};
    CHECK_THROWS_WITH(config.validate(),
                      Catch::Contains("service_discovery.refresh_interval"));
  }
  SECTION("etcd without endpoints") {
    config.service_discovery.backend = ServiceDiscoveryBackend::Etcd;
    config.service_discovery.endpoints.clear();
    CHECK_THROWS_WITH(config.validate(),
                      Catch::Contains("service_discovery.endpoints"));
  }
}

TEST_CASE("config: validate() checks services built in code",
          "[config][validate]") {
  GatewayConfig config;
  ServiceInfo info;
  info.name = "web";
  info.endpoints.push_back(ServiceEndpoint{
      "http://127.0.0.1:80", 1, EndpointHealthStatus::Healthy, {}});
  info.endpoints.push_back(
      ServiceEndpoint{"ftp://127.0.0.2", 1, EndpointHealthStatus::Healthy, {}});
  config.service_discovery.services["web-1"] = info;
  try {
    config.validate();
    FAIL("a service with an ftp endpoint must be rejected");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::config_invalid);
    CHECK_THAT(err.message(),
               Catch::Contains("service_discovery.services.web-1.endpoints[1]"
                               ".url"));
  }
  config.service_discovery.services.clear();
  config.service_discovery.services["a/b"] = ServiceInfo{"x", {}, {}, {}};
  CHECK_THROWS_AS(config.validate(), GatewayError);
  config.service_discovery.services.clear();
  config.service_discovery.services["nameless"] = ServiceInfo{};
  CHECK_THROWS_WITH(
      config.validate(),
      Catch::Contains("service_discovery.services.nameless.name"));
}

TEST_CASE("config: the consul backend defaults to the local agent and reads "
          "its section",
          "[config]") {
  auto config = GatewayConfig::from_json(R"({"service_discovery":{
    "backend": "consul",
    "consul": {"datacenter": "eu-west", "token": "t", "service_prefix": "o-",
               "health_source": "probes", "wait": "30s",
               "deregister_critical_after": "5m", "dial_timeout": "1s",
               "request_timeout": "3s"}}})");
  const auto& sd = config.service_discovery;
  CHECK(sd.endpoints == std::vector<std::string>{"http://127.0.0.1:8500"});
  CHECK(sd.consul.datacenter == "eu-west");
  CHECK(sd.consul.token == "t");
  CHECK(sd.consul.service_prefix == "o-");
  CHECK(sd.consul.health_source == ConsulHealthSource::Probes);
  CHECK(sd.consul.wait == 30s);
  CHECK(sd.consul.deregister_critical_after == 5min);
  CHECK(sd.consul.dial_timeout == 1s);
  CHECK(sd.consul.request_timeout == 3s);
  CHECK(
      GatewayConfig::from_json(R"({"service_discovery":{"backend":"consul"}})")
          .service_discovery.consul.health_source == ConsulHealthSource::Both);
}
