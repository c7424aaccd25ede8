// The Consul client over https: a TLS stand-in for an agent (cpp-httplib's
// SSLServer with a certificate made by the openssl CLI; the Consul emulator
// itself speaks plain HTTP) answering the two reads, verified against the
// configured CA and refused without it.
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>

#include "runtime/consul_backend.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

TEST_CASE("consul over TLS: verified with the configured CA, refused "
          "without",
          "[consul][tls]") {
  test::temp_config_file dir{"{}"};
  auto root = std::filesystem::path{dir.path()}.parent_path().string();
  auto cert = root + "/cert.pem";
  auto key = root + "/key.pem";
  test::child_process openssl{{"/usr/bin/openssl", "req", "-x509", "-newkey",
                               "rsa:2048", "-nodes", "-keyout", key, "-out",
                               cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                               "-addext", "subjectAltName=IP:127.0.0.1"}};
  REQUIRE(openssl.wait_for_exit(30s) == 0);

  httplib::SSLServer agent{cert.c_str(), key.c_str()};
  REQUIRE(agent.is_valid());
  agent.Get("/v1/catalog/services",
            [](const httplib::Request&, httplib::Response& res) {
              res.set_header("X-Consul-Index", "7");
              res.set_content(R"({"consul":[],"web":[]})", "application/json");
            });
  agent.Get("/v1/health/service/web",
            [](const httplib::Request&, httplib::Response& res) {
              res.set_header("X-Consul-Index", "7");
              res.set_content(
                  R"([{"Node":{"Node":"n1","Address":"127.0.0.1"},)"
                  R"("Service":{"ID":"web-1","Service":"web","Address":"",)"
                  R"("Port":8080,"Meta":{}},)"
                  R"("Checks":[{"CheckID":"serfHealth","Status":"passing"}]}])",
                  "application/json");
            });
  auto port = agent.bind_to_any_port("127.0.0.1");
  std::thread serving{[&] { agent.listen_after_bind(); }};
  auto url = "https://127.0.0.1:" + std::to_string(port);

  ConsulConfig settings;
  settings.ca_file = cert; // self-signed: the certificate is its own CA
  settings.dial_timeout = 1s;
  {
    ConsulBackend trusted{"", std::nullopt, url, settings};
    auto services = trusted.discover_services();
    REQUIRE(services.count("web") == 1);
    CHECK(services.at("web").endpoints.at(0).url == "http://127.0.0.1:8080");

    ConsulConfig no_ca;
    no_ca.dial_timeout = 1s;
    ConsulBackend untrusted{"", std::nullopt, url, no_ca};
    CHECK_THROWS_AS(untrusted.discover_services(), GatewayError);
  }
  agent.stop();
  serving.join();
}
