// The etcd client over TLS against a real etcd serving https on loopback
// with a certificate made for the test (openssl CLI): verified against the
// configured CA, refused without it.
#include <filesystem>

#include <catch2/catch.hpp>

#include "messages/json_codec.hpp"
#include "runtime/etcd_backend.hpp"
#include "support/http_test_server.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

/// A temp directory with a self-signed certificate for 127.0.0.1 and its
/// key, and one etcd member serving https with them.
class tls_etcd {
public:
  tls_etcd() : dir_{"{}"} {
    auto root = std::filesystem::path{dir_.path()}.parent_path().string();
    cert_ = root + "/cert.pem";
    key_ = root + "/key.pem";
    test::child_process openssl{{"/usr/bin/openssl", "req", "-x509", "-newkey",
                                 "rsa:2048", "-nodes", "-keyout", key_, "-out",
                                 cert_, "-days", "1", "-subj", "/CN=127.0.0.1",
                                 "-addext", "subjectAltName=IP:127.0.0.1"}};
    if (openssl.wait_for_exit(30s) != 0)
      throw std::runtime_error("openssl failed: " + openssl.output());
    auto client_port = std::to_string(test::refused_port());
    auto peer = "http://127.0.0.1:" + std::to_string(test::refused_port());
    url_ = "https://127.0.0.1:" + client_port;
    etcd_ = std::make_unique<test::child_process>(std::vector<std::string>{
        "/usr/bin/etcd", "--name", "tls", "--data-dir", root + "/data",
        "--listen-client-urls", url_, "--advertise-client-urls", url_,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", "tls=" + peer, "--cert-file", cert_, "--key-file",
        key_});
  }

  const std::string& url() const { return url_; }
  const std::string& cert() const { return cert_; }
  std::string log() const { return etcd_->output(); }

private:
  test::temp_config_file dir_; // owns the temp directory
  std::string cert_;
  std::string key_;
  std::string url_;
  std::unique_ptr<test::child_process> etcd_;
};

} // namespace

TEST_CASE("etcd over TLS: verified with the configured CA, refused without",
          "[etcd][tls]") {
  tls_etcd etcd;
  EtcdConfig settings;
  settings.ca_file = etcd.cert(); // self-signed: the certificate is its CA
  settings.dial_timeout = 500ms;
  EtcdBackend trusted{{etcd.url()}, "/orasi", settings};
  ServiceInfo info;
  info.name = "secure";
  info.endpoints.push_back(ServiceEndpoint{
      "https://127.0.0.1:443", 1, EndpointHealthStatus::Unknown, {}});
  bool up = test::eventually(
      [&] {
        try {
          trusted.register_service("secure-1", info);
          return true;
        } catch (const GatewayError&) {
          return false; // not serving yet
        }
      },
      20s);
  INFO(etcd.log());
  REQUIRE(up);
  auto services = trusted.discover_services();
  REQUIRE(services.count("secure-1") == 1);
  CHECK(services.at("secure-1").name == "secure");

  // Without the CA the certificate does not verify: no data is exchanged.
  EtcdConfig no_ca;
  no_ca.dial_timeout = 500ms;
  EtcdBackend untrusted{{etcd.url()}, "/orasi", no_ca};
  try {
    untrusted.discover_services();
    FAIL("an unverified certificate must be refused");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::backend_unavailable);
    CHECK_THAT(err.message(), Catch::Contains(etcd.url()));
  }
}
