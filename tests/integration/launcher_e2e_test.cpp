// The real launcher process: admin API over HTTP, SIGHUP reload, clean
// shutdown on SIGTERM/SIGINT, and config errors that name the field.
#include <csignal>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <httplib.h>

#include "etcd_fixture.hpp"
#include "support/consul_emulator.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
namespace json = boost::json;

namespace {

const std::string launcher = ORASI_LAUNCHER_PATH;

/// Probes are off: these tests pin the admin API on declared health (the
/// probe tests are in health_check_e2e_test.cpp).
std::string config_text(const std::string& services_json) {
  return R"({"service_discovery":{"backend":"static",)"
         R"("health_check":{"enabled":false},"services":)" +
         services_json +
         R"(},"admin":{"listen":"127.0.0.1:0"},"logging":{"level":"info"}})";
}

const std::string web_services = R"({
  "web-1":{"name":"web","endpoints":[
    {"url":"http://127.6.0.1:80","weight":2,"health_status":"Healthy","metadata":{"zone":"a"}},
    {"url":"http://127.6.0.2:80","weight":1,"health_status":"Unhealthy","metadata":{}}],
    "health_status":"Unknown","metadata":{"team":"web"}},
  "db-1":{"name":"db","endpoints":[{"url":"http://127.6.0.3:5432"}]}})";

/// A launcher with its admin API on a free port.
struct running_launcher {
  test::child_process process;
  uint16_t port = 0;

  explicit running_launcher(std::vector<std::string> args)
      : process([&] {
          args.insert(args.begin(), launcher);
          return args;
        }()) {
    REQUIRE(process.wait_for_output("admin API listening on"));
    port = test::admin_port_from_log(process.output());
    REQUIRE(port != 0);
  }

  httplib::Result get(const std::string& path) {
    httplib::Client client{"127.0.0.1", port};
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(5));
    return client.Get(path.c_str());
  }

  json::value get_json(const std::string& path, int expected_status = 200) {
    auto res = get(path);
    REQUIRE(res);
    CHECK(res->status == expected_status);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    return json::parse(res->body);
  }
};

} // namespace

TEST_CASE("launcher: serves the admin API from a config file",
          "[launcher][e2e]") {
  test::temp_config_file file{config_text(web_services)};
  running_launcher run{{"--config", file.path()}};

  auto services = run.get_json("/v1/services").as_object();
  REQUIRE(services.size() == 2);
  auto web = services.at("web-1").as_object();
  CHECK(web.at("name") == "web");
  CHECK(web.at("health_status") == "Degraded");
  CHECK(web.at("metadata").at("team") == "web");
  auto endpoint = web.at("endpoints").as_array().at(0).as_object();
  CHECK(endpoint.at("url") == "http://127.6.0.1:80");
  CHECK(endpoint.at("weight") == 2);
  CHECK(endpoint.at("health_status") == "Healthy");
  CHECK(services.at("db-1").at("health_status") == "Unknown");

  auto one = run.get_json("/v1/services/web-1").as_object();
  CHECK(one.at("name") == "web");

  auto missing = run.get_json("/v1/services/nope", 404).as_object();
  CHECK(missing.at("kind") == "not_found");
  CHECK_THAT(std::string{missing.at("error").as_string()},
             Catch::Contains("nope"));

  // The routable view lists only Healthy endpoints of routable services.
  auto healthy = run.get_json("/v1/health/services").as_object();
  REQUIRE(healthy.size() == 1);
  CHECK(healthy.at("web-1").at("endpoints").as_array().size() == 1);

  auto health = run.get_json("/healthz").as_object();
  CHECK(health.at("status") == "ok");
  CHECK(health.at("services") == 2);

  auto unknown_route = run.get_json("/v2/nothing", 404).as_object();
  CHECK(unknown_route.contains("error"));
  auto res = run.get("/v1/services");
  REQUIRE(res);
  CHECK(res->get_header_value("X-Orasi-Index") == "1");

  run.process.send_signal(SIGTERM);
  CHECK(run.process.wait_for_exit() == 0);
  CHECK_THAT(run.process.output(), Catch::Contains("stopped"));
}

TEST_CASE("launcher: SIGHUP applies a valid file and keeps the services on "
          "a broken one",
          "[launcher][e2e][reload]") {
  test::temp_config_file file{config_text(web_services)};
  running_launcher run{{"--config", file.path()}};

  file.write(R"({"service_discovery": [)");
  run.process.send_signal(SIGHUP);
  REQUIRE(run.process.wait_for_output("reload failed"));
  CHECK_THAT(run.process.output(), Catch::Contains("malformed JSON"));
  CHECK(run.get_json("/v1/services").as_object().size() == 2);

  file.write(config_text(R"({"solo-1":{"name":"solo"}})"));
  run.process.send_signal(SIGHUP);
  CHECK(test::eventually([&] {
    auto res = run.get("/v1/services");
    return res && json::parse(res->body).as_object().size() == 1;
  }));
  CHECK(run.get_json("/v1/services/solo-1").at("name") == "solo");

  run.process.send_signal(SIGINT);
  CHECK(run.process.wait_for_exit() == 0);
}

TEST_CASE("launcher: runs the embedded demo config without --config",
          "[launcher][e2e]") {
  running_launcher run{{"--admin-listen", "127.0.0.1:0"}};
  auto services = run.get_json("/v1/services").as_object();
  CHECK(services.size() >= 3);
  CHECK(services.contains("orasi-admin-1"));
  CHECK(services.contains("demo-web-1"));
  run.process.send_signal(SIGTERM);
  CHECK(run.process.wait_for_exit() == 0);
}

TEST_CASE("launcher: a bad config exits 2 and names the field",
          "[launcher][e2e][config]") {
  test::temp_config_file file{
      R"({"service_discovery":{"backend":"zookeeper"}})"};
  test::child_process process{{launcher, "--config", file.path()}};
  CHECK(process.wait_for_exit() == 2);
  CHECK_THAT(process.output(), Catch::Contains("service_discovery.backend"));
  CHECK_THAT(process.output(), Catch::Contains(file.path()));

  test::child_process bad_level{
      {launcher, "--log-level", "loud", "--admin-listen", "127.0.0.1:0"}};
  CHECK(bad_level.wait_for_exit() == 2);
  CHECK_THAT(bad_level.output(), Catch::Contains("logging.level"));

  test::child_process missing{{launcher, "--config", "/nonexistent/x.json"}};
  CHECK(missing.wait_for_exit() == 2);
  CHECK_THAT(missing.output(), Catch::Contains("/nonexistent/x.json"));

  test::child_process unknown_flag{{launcher, "--frobnicate"}};
  CHECK(unknown_flag.wait_for_exit() == 2);
}

TEST_CASE("launcher: an admin port in use is a clear startup error",
          "[launcher][e2e][config]") {
  test::temp_config_file file{config_text("{}")};
  running_launcher first{{"--config", file.path()}};
  test::child_process second{{launcher, "--config", file.path(),
                              "--admin-listen",
                              "127.0.0.1:" + std::to_string(first.port)}};
  CHECK(second.wait_for_exit() == 2);
  CHECK_THAT(second.output(), Catch::Contains("admin.listen"));
  first.process.send_signal(SIGTERM);
  CHECK(first.process.wait_for_exit() == 0);
}

TEST_CASE("launcher: warns at start when the timeout outlasts the interval, "
          "not when only retries would",
          "[launcher][e2e][health]") {
  auto config = [](const std::string& timing) {
    return R"({"service_discovery":{"health_check":{)" + timing +
           R"(},"services":{"a-1":{"name":"a","endpoints":[)"
           R"({"url":"http://127.0.0.1:)" +
           std::to_string(test::refused_port()) +
           R"("}]}}},"admin":{"listen":"127.0.0.1:0"}})";
  };
  const std::string warning = "is longer than the interval";
  {
    // 1 + retries timeouts exceed the interval, but a timed-out attempt
    // ends its check: no warning.
    test::temp_config_file file{
        config(R"("interval":"1s","timeout":"1s","retries":3)")};
    running_launcher run{{"--config", file.path()}};
    CHECK_THAT(run.process.output(), !Catch::Contains(warning));
  }
  test::temp_config_file file{
      config(R"("interval":"1s","timeout":"2s","retries":0)")};
  running_launcher run{{"--config", file.path()}};
  CHECK_THAT(run.process.output(), Catch::Contains(warning));
}

TEST_CASE("launcher: probes the endpoints of its config and reports them",
          "[launcher][e2e][health]") {
  test::http_test_server up;
  test::http_test_server_options throttled_options;
  throttled_options.behavior = test::server_behavior::answer(429);
  test::http_test_server throttled{throttled_options};
  auto url = [](const test::http_test_server& server) {
    return "http://127.0.0.1:" + std::to_string(server.port());
  };
  test::temp_config_file file{
      R"({"service_discovery":{"health_check":{"interval":"200ms",
        "fast_interval":"50ms","timeout":"500ms","retries":0},
        "services":{
        "up-1":{"name":"up","endpoints":[{"url":")" +
      url(up) + R"("},
          {"url":"http://127.0.0.1:)" +
      std::to_string(test::refused_port()) + R"("}]},
        "busy-1":{"name":"busy","endpoints":[{"url":")" +
      url(throttled) + R"("}]}}},
        "admin":{"listen":"127.0.0.1:0"}})"};
  running_launcher run{{"--config", file.path()}};
  REQUIRE(test::eventually(
      [&] {
        auto services = run.get_json("/v1/services").as_object();
        auto& endpoints = services.at("up-1").at("endpoints").as_array();
        return endpoints.at(0).at("health_status") == "Healthy" &&
               endpoints.at(1).at("health_status") == "Unhealthy" &&
               services.at("busy-1").at("health_status") == "Degraded";
      },
      std::chrono::seconds(10)));
  CHECK(run.get_json("/v1/services/up-1").at("health_status") == "Degraded");
  auto busy = run.get_json("/v1/services/busy-1");
  CHECK(busy.at("endpoints").at(0).at("degraded") == true);
  auto routable = run.get_json("/v1/health/services").as_object();
  CHECK(routable.at("up-1").at("endpoints").as_array().size() == 1);
  CHECK(routable.contains("busy-1")); // 429 answers: still routable

  auto metrics = run.get_json("/v1/metrics");
  CHECK(metrics.at("probes").at("active_probes") == 3);
  CHECK(metrics.at("probes").at("attempts_failed").at("refused").as_int64() >
        0);
  CHECK(metrics.at("probes").at("checks_degraded").as_int64() > 0);
  CHECK(metrics.at("registry").at("endpoints") == 3);
  run.process.send_signal(SIGTERM);
  CHECK(run.process.wait_for_exit() == 0);
}

TEST_CASE("launcher: serves services from etcd and shows the backend in "
          "/v1/metrics",
          "[launcher][etcd]") {
  test::etcd_cluster cluster;
  cluster.put("/orasi/services/web-1",
              R"({"name":"web","endpoints":[{"url":"http://127.6.0.1:80",)"
              R"("health_status":"Healthy"}]})");
  test::temp_config_file file{
      R"({"service_discovery":{"backend":"etcd","endpoints":[")" +
      cluster.client_url(0) +
      R"("],"health_check":{"enabled":false}},)"
      R"("admin":{"listen":"127.0.0.1:0"}})"};
  running_launcher launcher{{"--config", file.path()}};
  auto services = launcher.get_json("/v1/services");
  CHECK(services.at("web-1").at("name") == "web");

  cluster.put("/orasi/services/db-1",
              R"({"name":"db","endpoints":[{"url":"http://127.6.0.3:5432"}]})");
  CHECK(test::eventually(
      [&] {
        return launcher.get_json("/v1/services").as_object().contains("db-1");
      },
      std::chrono::seconds(5)));
  auto backend = launcher.get_json("/v1/metrics").at("backend");
  CHECK(backend.at("type") == "etcd");
  CHECK(backend.at("stale") == false);

  launcher.process.send_signal(SIGTERM);
  CHECK(launcher.process.wait_for_exit() == 0);
}

TEST_CASE("launcher: serves services from Consul (the API emulator) and "
          "shows the backend in /v1/metrics",
          "[launcher][consul]") {
  test::consul_emulator agent;
  test::consul_instance web;
  web.id = "web-1";
  web.name = "web";
  web.address = "127.6.0.1";
  web.port = 80;
  agent.register_instance(web);
  test::temp_config_file file{
      R"({"service_discovery":{"backend":"consul","endpoints":[")" +
      agent.url() +
      R"("],"consul":{"health_source":"consul","wait":"2s"}},)"
      R"("admin":{"listen":"127.0.0.1:0"}})"};
  running_launcher launcher{{"--config", file.path()}};
  CHECK(launcher.get_json("/v1/services").at("web").at("name") == "web");
  auto backend = launcher.get_json("/v1/metrics").at("backend");
  CHECK(backend.at("type") == "consul");
  launcher.process.send_signal(SIGTERM);
  CHECK(launcher.process.wait_for_exit() == 0);
}
