// The real launcher on a real etcd that is not there, read the way an
// operator reads it. During an outage the last-known services stay served
// and the admin API says so (`stale` in /healthz and /v1/metrics,
// `orasi_backend_up 0` in /metrics), all of which clears once etcd is
// back. Before the first listing /readyz answers 503, and 200 once etcd
// answers.
#include <csignal>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "launcher_support.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string services_prefix = "/orasi/services/";

/// Fails fast on a member that is down, so that tests wait for little.
const json::object fast_etcd{{"dial_timeout", "500ms"},
                             {"request_timeout", "2s"}};

/// What the operator views say about the backend.
struct backend_views {
  bool healthz_stale = false;
  bool registry_stale = false; // /v1/metrics registry.stale
  bool backend_stale = false;  // /v1/metrics backend.stale
  std::string prometheus;      // the /metrics text
};

backend_views read_views(const test::launcher_process& run) {
  backend_views views;
  views.healthz_stale = run.get_json("/healthz").at("stale").as_bool();
  auto metrics = run.get_json("/v1/metrics");
  views.registry_stale = metrics.at("registry").at("stale").as_bool();
  views.backend_stale = metrics.at("backend").at("stale").as_bool();
  if (auto text = run.get("/metrics"))
    views.prometheus = text->body;
  return views;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string backend_up = "\norasi_backend_up{backend=\"etcd\"} 1\n";
const std::string backend_down = "\norasi_backend_up{backend=\"etcd\"} 0\n";

int status_of(const test::launcher_process& run, const std::string& path) {
  auto answer = run.get(path);
  return answer ? answer->status : -1;
}

} // namespace

TEST_CASE("launcher on etcd: an outage is stale in /healthz and /v1/metrics "
          "and down in /metrics while the last services stay served, "
          "all clear once etcd is back",
          "[launcher][etcd][outage]") {
  test::etcd_cluster cluster;
  cluster.put(services_prefix + "web-1",
              test::service_json("web", "http://127.6.0.1:80"));
  test::temp_config_file file{
      test::etcd_launcher_config({cluster.client_url(0)}, fast_etcd)};
  test::launcher_process run{{"--config", file.path()}};

  auto before = read_views(run);
  CHECK_FALSE(before.healthz_stale);
  CHECK_FALSE(before.registry_stale);
  CHECK_FALSE(before.backend_stale);
  CHECK(contains(before.prometheus, backend_up));
  REQUIRE(run.get_json("/v1/services").as_object().contains("web-1"));

  cluster.stop(0);
  // Every view says so, not just the first to notice.
  bool stale = test::eventually(
      [&] {
        auto views = read_views(run);
        return views.healthz_stale && views.registry_stale &&
               views.backend_stale && contains(views.prometheus, backend_down);
      },
      30s);
  INFO("launcher output:\n" << run.process().output());
  REQUIRE(stale);
  // Stale is not down: the launcher still runs and serves what it knew.
  int status = 0;
  auto health = run.get_json("/healthz", &status);
  CHECK(status == 200);
  CHECK(health.at("running") == true);
  CHECK(health.at("services") == 1);
  auto services = run.get_json("/v1/services").as_object();
  REQUIRE(services.contains("web-1"));
  CHECK(services.at("web-1").at("name") == "web");
  CHECK(run.get_json("/v1/health/services").as_object().contains("web-1"));
  CHECK(status_of(run, "/readyz") == 200); // it did list once

  cluster.restart(0);
  bool recovered = test::eventually(
      [&] {
        auto views = read_views(run);
        return !views.healthz_stale && !views.registry_stale &&
               !views.backend_stale && contains(views.prometheus, backend_up);
      },
      30s);
  INFO("launcher output after the restart:\n" << run.process().output());
  REQUIRE(recovered);
  // Not only the flag: changes made in etcd reach the launcher again.
  cluster.put(services_prefix + "db-1",
              test::service_json("db", "http://127.6.0.3:5432"));
  cluster.del(services_prefix + "web-1");
  CHECK(test::eventually(
      [&] {
        auto now = run.get_json("/v1/services").as_object();
        return now.contains("db-1") && !now.contains("web-1");
      },
      30s));

  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
}

TEST_CASE("launcher on etcd: /readyz answers 503 until the first listing and "
          "200 once etcd answers",
          "[launcher][etcd][readiness]") {
  test::etcd_cluster cluster;
  cluster.put(services_prefix + "web-1",
              test::service_json("web", "http://127.6.0.1:80"));
  // Nothing listens on the member's port until the restart below.
  cluster.stop(0);
  test::temp_config_file file{
      test::etcd_launcher_config({cluster.client_url(0)}, fast_etcd)};
  test::launcher_process run{{"--config", file.path()}};

  // Not ready, and still not ready once a listing has failed (so not
  // merely asked too early).
  bool failed_once =
      run.process().wait_for_output("backend not listed yet, retrying", 30s);
  INFO("launcher output:\n" << run.process().output());
  REQUIRE(failed_once);
  int status = 0;
  auto ready = run.get_json("/readyz", &status);
  CHECK(status == 503);
  CHECK(ready.at("ready") == false);
  CHECK(status_of(run, "/healthz") == 503); // not running yet
  CHECK(run.get_json("/v1/services").as_object().empty());

  cluster.restart(0);
  bool became_ready =
      test::eventually([&] { return status_of(run, "/readyz") == 200; }, 30s);
  INFO("launcher output after the restart:\n" << run.process().output());
  REQUIRE(became_ready);
  CHECK(run.get_json("/readyz").at("ready") == true);
  CHECK(run.get_json("/v1/services").as_object().contains("web-1"));
  auto health = run.get_json("/healthz", &status);
  CHECK(status == 200);
  CHECK(health.at("stale") == false);

  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
}

TEST_CASE("launcher on etcd: SIGTERM while no listing ever succeeded stops "
          "cleanly",
          "[launcher][etcd][readiness]") {
  // A port that refuses: no etcd, ever.
  test::temp_config_file file{test::etcd_launcher_config(
      {"http://127.0.0.1:" + std::to_string(test::refused_port())}, fast_etcd)};
  test::launcher_process run{{"--config", file.path()}};
  REQUIRE(
      run.process().wait_for_output("backend not listed yet, retrying", 30s));
  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
  CHECK_THAT(run.process().output(), Catch::Contains("stopped"));
}
