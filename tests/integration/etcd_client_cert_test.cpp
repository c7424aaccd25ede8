// The real launcher against a real etcd started with --client-cert-auth
// (certificates made by the fixture with the openssl CLI): with
// etcd.cert_file/key_file it lists, watches, registers and revokes; without
// a client certificate etcd refuses the handshake and nothing is listed.
#include <csignal>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "launcher_support.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string services_prefix = "/orasi/services/";

test::etcd_options client_cert_auth() {
  test::etcd_options options;
  options.security = test::etcd_security::client_cert_auth;
  return options;
}

int status_of(const test::launcher_process& run, const std::string& path) {
  auto answer = run.get(path);
  return answer ? answer->status : -1;
}

} // namespace

TEST_CASE("etcd with --client-cert-auth: the launcher with a client "
          "certificate lists, watches, registers and revokes",
          "[launcher][etcd][tls]") {
  test::etcd_cluster cluster{1, client_cert_auth()};
  const auto& pki = cluster.certificates();
  cluster.put(services_prefix + "web-1",
              test::service_json("web", "http://127.6.0.1:80"));
  test::temp_config_file file{test::etcd_launcher_config(
      {cluster.client_url(0)},
      json::object{{"ca_file", pki.ca_file},
                   {"cert_file", pki.client_cert_file},
                   {"key_file", pki.client_key_file}})};
  test::launcher_process run{{"--config", file.path()}};
  bool ready =
      test::eventually([&] { return status_of(run, "/readyz") == 200; }, 30s);
  INFO("launcher output:\n" << run.process().output());
  REQUIRE(ready);
  CHECK(run.get_json("/v1/services").as_object().contains("web-1"));
  CHECK(run.get_json("/healthz").at("stale") == false);

  // The watch stream (TLS, client certificate) delivers changes.
  cluster.put(services_prefix + "db-1",
              test::service_json("db", "http://127.6.0.3:5432"));
  CHECK(test::eventually(
      [&] { return run.get_json("/v1/services").as_object().contains("db-1"); },
      30s));

  // A registration lands in etcd on a lease, which the stop revokes.
  auto registered = run.put("/v1/services/api-1",
                            test::service_json("api", "http://127.6.0.9:80"));
  REQUIRE(registered);
  CHECK(registered->status == 200);
  CHECK(cluster.lease_of(services_prefix + "api-1"));
  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
  CHECK(cluster.read_prefix(services_prefix).count(services_prefix + "api-1") ==
        0);
}

TEST_CASE("etcd with --client-cert-auth: without a client certificate the "
          "launcher lists nothing and is not ready",
          "[launcher][etcd][tls]") {
  test::etcd_cluster cluster{1, client_cert_auth()};
  cluster.put(services_prefix + "web-1",
              test::service_json("web", "http://127.6.0.1:80"));
  // The right CA: the server's certificate verifies, only the client has
  // nothing to show.
  test::temp_config_file file{test::etcd_launcher_config(
      {cluster.client_url(0)},
      json::object{{"ca_file", cluster.certificates().ca_file}})};
  test::launcher_process run{{"--config", file.path()}};
  bool refused =
      run.process().wait_for_output("backend not listed yet, retrying", 30s);
  INFO("launcher output:\n" << run.process().output());
  INFO("etcd log:\n" << cluster.member_log(0));
  REQUIRE(refused);
  CHECK_THAT(run.process().output(), Catch::Contains(cluster.client_url(0)));
  // etcd says why: the handshake, not the CA or the address.
  CHECK(test::eventually(
      [&] {
        return cluster.member_log(0).find(
                   "client didn't provide a certificate") != std::string::npos;
      },
      10s));
  CHECK(status_of(run, "/readyz") == 503);
  CHECK(run.get_json("/v1/services").as_object().empty());
  auto registered = run.put("/v1/services/api-1",
                            test::service_json("api", "http://127.6.0.9:80"));
  REQUIRE(registered);
  CHECK(registered->status == 503);
  CHECK(cluster.read_prefix(services_prefix).count(services_prefix + "api-1") ==
        0);

  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
}
