// Failure cases a real etcd cannot be made to produce on demand, against a
// scripted stand-in for etcd's JSON gateway (cpp-httplib on loopback): a
// lease grant that keeps failing after the lease was lost, and watch events
// that arrive after a listing already contains them. Everything else is
// tested against real etcd (etcd_backend_test.cpp).
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>

#include "backends/base64.hpp"
#include "backends/etcd_source.hpp"
#include "messages/json_codec.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
using backends::base64_encode;

namespace {

/// A gateway stand-in on a free loopback port, serving until destroyed.
class scripted_gateway {
public:
  httplib::Server server;
  std::atomic<bool> stopping{false};

  void start() {
    port_ = server.bind_to_any_port("127.0.0.1");
    thread_ = std::thread{[this] { server.listen_after_bind(); }};
  }

  ~scripted_gateway() {
    stopping = true;
    server.stop();
    if (thread_.joinable())
      thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

private:
  int port_ = 0;
  std::thread thread_;
};

std::string value_json(const std::string& name) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back(ServiceEndpoint{
      "http://127.0.0.1:80", 1, EndpointHealthStatus::Healthy, {}});
  return encode(info);
}

std::string kv_json(const std::string& id, int revision) {
  return R"({"key":")" + base64_encode("/orasi/services/" + id) +
         R"(","mod_revision":")" + std::to_string(revision) + R"(","value":")" +
         base64_encode(value_json(id)) + R"("})";
}

backends::etcd_source_options options_for(const scripted_gateway& gateway) {
  backends::etcd_source_options options;
  options.client.endpoints = {gateway.url()};
  options.client.request_timeout = 1s;
  return options;
}

} // namespace

TEST_CASE("etcd (scripted gateway): a lost lease whose re-grant fails is "
          "granted again later and the registration written again",
          "[etcd][lease]") {
  scripted_gateway gateway;
  std::atomic<int> grants{0};
  std::atomic<int> puts{0};
  std::atomic<bool> grants_fail{false};
  gateway.server.Post(
      "/v3/lease/grant", [&](const httplib::Request&, httplib::Response& res) {
        if (grants_fail) { // e.g. no leader during an election
          res.status = 503;
          res.set_content(R"({"error":"etcdserver: no leader","code":14,)"
                          R"("message":"etcdserver: no leader"})",
                          "application/json");
          return;
        }
        auto id = ++grants;
        res.set_content(R"({"header":{"revision":"1"},"ID":")" +
                            std::to_string(id) + R"(","TTL":"3"})",
                        "application/json");
      });
  gateway.server.Post("/v3/lease/keepalive", [&](const httplib::Request& req,
                                                 httplib::Response& res) {
    // Lease 1 is gone (it expired while we were cut off), later ones live.
    bool first = req.body.find(R"("1")") != std::string::npos;
    if (first && !grants_fail.exchange(true))
      std::thread{[&] {
        std::this_thread::sleep_for(1s);
        grants_fail = false;
      }}.detach();
    res.set_content(first ? R"({"result":{"header":{},"ID":"1"}})"
                          : R"({"result":{"header":{},"ID":"2","TTL":"3"}})",
                    "application/json");
  });
  gateway.server.Post(
      "/v3/kv/put", [&](const httplib::Request&, httplib::Response& res) {
        ++puts;
        res.set_content(R"({"header":{"revision":"3"}})", "application/json");
      });
  gateway.start();

  auto options = options_for(gateway);
  options.lease_ttl = 1s; // the keeper runs every 333 ms
  options.watch = false;
  backends::etcd_source source{options};
  ServiceInfo info;
  info.name = "api";
  REQUIRE_FALSE(source.put("api-1", info));
  CHECK(test::eventually([&] { return puts >= 2 && source.lease_id() == 2; },
                         8s));
  CHECK(source.counters().lease_regrants == 1);
  source.suspend();
}

TEST_CASE("etcd (scripted gateway): watch events a listing already "
          "contains are dropped, newer ones delivered",
          "[etcd][watch]") {
  scripted_gateway gateway;
  // The listing is at revision 10 and holds only "a"; "gone" was created
  // at 5 and deleted before 10. A watch that (racing the listing) still
  // delivers revision 5 must not bring "gone" back.
  gateway.server.Post(
      "/v3/kv/range", [&](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"header":{"revision":"10"},"kvs":[)" +
                            kv_json("a", 3) + "]}",
                        "application/json");
      });
  gateway.server.Post("/v3/watch", [&](const httplib::Request&,
                                       httplib::Response& res) {
    res.set_chunked_content_provider(
        "application/json", [&](size_t offset, httplib::DataSink& sink) {
          if (offset == 0) {
            std::string lines =
                R"({"result":{"header":{"revision":"10"},"created":true}})"
                "\n"
                R"({"result":{"header":{"revision":"10"},"events":[{"kv":)" +
                kv_json("gone", 5) + "}]}}\n" +
                R"({"result":{"header":{"revision":"11"},"events":[{"kv":)" +
                kv_json("new", 11) + "}]}}\n";
            sink.write(lines.data(), lines.size());
          }
          std::this_thread::sleep_for(20ms);
          return !gateway.stopping.load();
        });
  });
  gateway.start();

  backends::etcd_source source{options_for(gateway)};
  auto listing = source.list();
  REQUIRE(listing);
  ServiceMap services = listing->services;
  CHECK(test::eventually([&] {
    auto update = source.poll();
    if (update && *update) {
      CHECK_FALSE((*update)->full);
      for (auto& [id, service] : (*update)->listing.services)
        services[id] = service;
    }
    return services.count("new") == 1;
  }));
  CHECK(services.count("a") == 1);
  CHECK(services.count("gone") == 0);
  source.suspend();
}
