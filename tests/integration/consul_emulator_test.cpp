// The Consul emulator (tests/support/consul_emulator.hpp) checked against
// Consul's documented behaviour from the outside, over HTTP: the Consul
// backend's tests are only as good as this stand-in is faithful.
#include <algorithm>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <httplib.h>

#include "test_support.hpp"
#include "tests/support/consul_emulator.hpp"

using namespace std::chrono_literals;
using orasi::test::consul_check;
using orasi::test::consul_emulator;
using orasi::test::consul_emulator_options;
using orasi::test::consul_instance;
namespace json = boost::json;

namespace {

using clock_type = std::chrono::steady_clock;

struct answer {
  bool ok = false; // a complete HTTP response arrived
  httplib::Error error = httplib::Error::Success;
  int status = 0;
  std::string body;
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  uint64_t index() const { return std::stoull(header("X-Consul-Index")); }
  json::value json() const { return json::parse(body); }
};

answer from(const httplib::Result& result) {
  answer a;
  if (!result) {
    a.error = result.error();
    return a;
  }
  a.ok = true;
  a.status = result->status;
  a.body = result->body;
  a.headers = result->headers;
  return a;
}

httplib::Client client_for(const consul_emulator& consul) {
  httplib::Client client{consul.url()};
  client.set_connection_timeout(2s);
  client.set_read_timeout(10s);
  return client;
}

answer get(const consul_emulator& consul, const std::string& target,
           const httplib::Headers& headers = {}) {
  auto client = client_for(consul);
  return from(client.Get(target.c_str(), headers));
}

answer put(const consul_emulator& consul, const std::string& target,
           const std::string& body, const httplib::Headers& headers = {}) {
  auto client = client_for(consul);
  return from(client.Put(target.c_str(), headers, body, "application/json"));
}

std::string fixture(const std::string& name) {
  std::ifstream in{std::string(ORASI_SOURCE_DIR) +
                   "/tests/support/consul_fixtures/" + name};
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string kind_of(const json::value& value) {
  if (value.is_number())
    return "number";
  if (value.is_string())
    return "string";
  if (value.is_bool())
    return "bool";
  if (value.is_array())
    return "array";
  if (value.is_object())
    return "object";
  return "null";
}

/// The same keys (casing included) and kinds of values down the tree;
/// free-form maps (Meta, TaggedAddresses) need only be objects.
void require_same_shape(const json::value& got, const json::value& want,
                        const std::string& where) {
  INFO(where);
  REQUIRE(kind_of(got) == kind_of(want));
  if (got.is_object()) {
    auto ends_with = [&](const std::string& suffix) {
      return where.size() >= suffix.size() &&
             where.compare(where.size() - suffix.size(), suffix.size(),
                           suffix) == 0;
    };
    if (ends_with(".Meta") || ends_with(".TaggedAddresses"))
      return;
    std::vector<std::string> got_keys, want_keys;
    for (const auto& entry : got.get_object())
      got_keys.emplace_back(entry.key());
    for (const auto& entry : want.get_object())
      want_keys.emplace_back(entry.key());
    std::sort(got_keys.begin(), got_keys.end());
    std::sort(want_keys.begin(), want_keys.end());
    REQUIRE(got_keys == want_keys);
    for (const auto& key : got_keys)
      require_same_shape(got.at(key), want.at(key), where + "." + key);
  } else if (got.is_array() && !want.get_array().empty()) {
    const auto& wanted = want.get_array();
    const auto& items = got.get_array();
    for (size_t i = 0; i < items.size(); ++i)
      require_same_shape(items[i], wanted[std::min(i, wanted.size() - 1)],
                         where + "[" + std::to_string(i) + "]");
  }
}

consul_instance web(const std::string& id, const std::string& status,
                    const std::string& node = {},
                    const std::string& address = "127.0.0.11") {
  consul_instance instance;
  instance.id = id;
  instance.name = "web";
  instance.tags = {"v1"};
  instance.address = address;
  instance.port = 8080;
  instance.meta = {{"scheme", "http"}};
  instance.node = node;
  consul_check check;
  check.status = status;
  check.http = "http://" + address + ":8080/health";
  instance.checks = {check};
  return instance;
}

/// A blocking GET on its own thread.
std::future<answer> get_async(const consul_emulator& consul,
                              const std::string& target) {
  return std::async(std::launch::async,
                    [&consul, target] { return get(consul, target); });
}

long long millis_since(clock_type::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             clock_type::now() - start)
      .count();
}

} // namespace

TEST_CASE("consul emulator: a fresh agent answers like a one-node Consul",
          "[consul][emulator]") {
  consul_emulator consul;
  auto catalog = get(consul, "/v1/catalog/services");
  REQUIRE(catalog.status == 200);
  CHECK(catalog.json() == json::parse(R"({"consul":[]})"));
  CHECK(catalog.index() == 1);
  CHECK(catalog.header("X-Consul-KnownLeader") == "true");
  CHECK(catalog.header("X-Consul-LastContact") == "0");
  CHECK(catalog.header("Content-Type") == "application/json");

  auto health = get(consul, "/v1/health/service/consul");
  REQUIRE(health.status == 200);
  auto entries = health.json().as_array();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].at("Service").at("Port") == 8300);
  CHECK(entries[0].at("Checks").at(0).at("CheckID") == "serfHealth");

  auto unknown = get(consul, "/v1/health/service/nope");
  CHECK(unknown.status == 200);
  CHECK(unknown.body == "[]");

  auto self = get(consul, "/v1/agent/self");
  REQUIRE(self.status == 200);
  CHECK(self.json().at("Config").at("Datacenter") == "dc1");
  CHECK(self.json().at("Config").at("NodeName") == "node1");
  CHECK(get(consul, "/v1/status/leader").body == R"("127.0.0.1:8300")");
  CHECK(get(consul, "/v1/kv/x").status == 404);
}

TEST_CASE("consul emulator: health and catalog answers have the shapes of "
          "the recorded Consul answers",
          "[consul][emulator]") {
  consul_emulator consul;
  auto one = web("web-1", "passing");
  one.tags = {"v1", "primary"};
  consul.register_instance(one);
  auto two = web("web-2", "warning", "node2", "");
  two.node_address = "127.0.0.2";
  two.meta.clear();
  consul.register_instance(two);

  auto health = get(consul, "/v1/health/service/web");
  REQUIRE(health.status == 200);
  auto want = json::parse(fixture("health_service_web.json"));
  const auto got = health.json();
  require_same_shape(got, want, "health");
  const auto& entries = got.as_array();
  REQUIRE(entries.size() == 2);
  // The second instance has no address of its own: the node's applies.
  CHECK(entries[1].at("Service").at("Address") == "");
  CHECK(entries[1].at("Node").at("Address") == "127.0.0.2");
  CHECK(entries[1].at("Checks").at(1).at("Status") == "warning");
  CHECK(entries[1].at("Checks").at(0).at("CheckID") == "serfHealth");

  // The catalog is a map of names (data, not keys) to tag lists.
  auto require_catalog_shape = [](const json::value& catalog) {
    REQUIRE(catalog.is_object());
    for (const auto& entry : catalog.get_object()) {
      REQUIRE(entry.value().is_array());
      for (const auto& tag : entry.value().get_array())
        REQUIRE(tag.is_string());
    }
  };
  require_catalog_shape(json::parse(fixture("catalog_services.json")));
  auto catalog = get(consul, "/v1/catalog/services");
  require_catalog_shape(catalog.json());
  CHECK(catalog.json() ==
        json::parse(R"({"consul":[],"web":["primary","v1"]})"));
}

TEST_CASE("consul emulator: indexes move per view, blocking queries wake "
          "on change and time out after wait",
          "[consul][emulator]") {
  consul_emulator consul;
  const auto before = get(consul, "/v1/catalog/services").index();
  consul.register_instance(web("web-1", "passing"));
  const auto catalog_index = get(consul, "/v1/catalog/services").index();
  const auto health_index = get(consul, "/v1/health/service/web").index();
  CHECK(catalog_index > before);
  CHECK(health_index == catalog_index);
  CHECK(consul.current_index() == catalog_index);

  // A change to another service does not wake a query on "web".
  auto blocked = get_async(
      consul, "/v1/health/service/web?index=" + std::to_string(health_index) +
                  "&wait=5s");
  REQUIRE(consul.wait_for_blocked_queries(1, 2s));
  consul_instance db;
  db.name = "db";
  consul.register_instance(db);
  CHECK(blocked.wait_for(150ms) == std::future_status::timeout);
  CHECK(get(consul, "/v1/catalog/services").index() > catalog_index);

  // A check change does: within a few milliseconds.
  const auto changed_at = clock_type::now();
  consul.set_check_status("web-1", "critical");
  auto woken = blocked.get();
  const auto latency = millis_since(changed_at);
  INFO("woken after " << latency << " ms");
  CHECK(latency < 150);
  REQUIRE(woken.status == 200);
  CHECK(woken.index() > health_index);
  CHECK(woken.json().at(0).at("Checks").at(1).at("Status") == "critical");
  // Check changes leave the catalog's index alone.
  CHECK(get(consul, "/v1/catalog/services").index() == consul.catalog_index());
  CHECK(consul.catalog_index() < woken.index());

  // Nothing changes: the answer comes after `wait` (+ up to wait/16).
  const auto now_index = woken.index();
  const auto asked_at = clock_type::now();
  auto timed_out =
      get(consul, "/v1/health/service/web?index=" + std::to_string(now_index) +
                      "&wait=300ms");
  const auto waited = millis_since(asked_at);
  CHECK(waited >= 300);
  CHECK(waited < 300 + 300 / 16 + 150);
  CHECK(timed_out.status == 200);
  CHECK(timed_out.index() == now_index);

  // An index already passed answers at once; Go's syntax is required.
  const auto at_once = clock_type::now();
  CHECK(get(consul, "/v1/health/service/web?index=1&wait=5s").status == 200);
  CHECK(millis_since(at_once) < 150);
  CHECK(get(consul, "/v1/health/service/web?index=1&wait=10").body ==
        "Invalid wait time");
  CHECK(get(consul, "/v1/health/service/web?index=x").body == "Invalid index");
}

TEST_CASE("consul emulator: a query blocked on a missing service wakes "
          "when it appears, and a removal moves the index forward",
          "[consul][emulator]") {
  consul_emulator consul;
  const auto missing = get(consul, "/v1/health/service/api");
  CHECK(missing.body == "[]");
  auto blocked =
      get_async(consul, "/v1/health/service/api?index=" +
                            std::to_string(missing.index()) + "&wait=5s");
  REQUIRE(consul.wait_for_blocked_queries(1, 2s));
  consul_instance api;
  api.name = "api";
  consul.register_instance(api);
  auto appeared = blocked.get();
  const auto entries = appeared.json();
  REQUIRE(entries.as_array().size() == 1);
  // Consul omits the Port of a port-less instance (omitempty).
  CHECK_FALSE(entries.at(0).at("Service").as_object().contains("Port"));

  REQUIRE(consul.deregister_instance("api"));
  auto gone = get(consul, "/v1/health/service/api");
  CHECK(gone.body == "[]");
  CHECK(gone.index() > appeared.index());
}

TEST_CASE("consul emulator: passing and tag filter health answers",
          "[consul][emulator]") {
  consul_emulator consul;
  consul.register_instance(web("web-1", "passing"));
  consul.register_instance(web("web-2", "warning"));
  auto three = web("web-3", "passing", "node3");
  three.tags = {"V2"};
  consul.register_instance(three);
  consul.set_node_check_status("node3", "critical");

  auto ids = [&](const std::string& target) {
    std::vector<std::string> result;
    const auto entries = get(consul, target).json();
    for (const auto& entry : entries.as_array())
      result.emplace_back(entry.at("Service").at("ID").as_string());
    return result;
  };
  using ids_t = std::vector<std::string>;
  CHECK(ids("/v1/health/service/web") == ids_t{"web-1", "web-2", "web-3"});
  CHECK(ids("/v1/health/service/web?passing") == ids_t{"web-1"});
  CHECK(ids("/v1/health/service/web?passing=true") == ids_t{"web-1"});
  CHECK(ids("/v1/health/service/web?passing=false").size() == 3);
  CHECK(get(consul, "/v1/health/service/web?passing=maybe").status == 400);
  CHECK(ids("/v1/health/service/web?tag=v2") == ids_t{"web-3"});
  // A node check is part of every instance on the node: its change moves
  // the index of their services.
  const auto before = get(consul, "/v1/health/service/web").index();
  consul.set_node_check_status("node3", "passing");
  CHECK(get(consul, "/v1/health/service/web").index() > before);
  CHECK(ids("/v1/health/service/web?passing&tag=v2") == ids_t{"web-3"});
}

TEST_CASE("consul emulator: another datacenter has no path",
          "[consul][emulator]") {
  consul_emulator_options options;
  options.datacenter = "eu1";
  consul_emulator consul{options};
  for (const char* path : {"/v1/catalog/services", "/v1/health/service/web",
                           "/v1/status/leader"}) {
    INFO(path);
    auto other = get(consul, std::string(path) + "?dc=us1");
    CHECK(other.status == 500);
    CHECK(other.body == "No path to datacenter");
    CHECK(get(consul, std::string(path) + "?dc=eu1").status == 200);
  }
  auto log = consul.request_log();
  REQUIRE(!log.empty());
  CHECK(log.front().target == "/v1/catalog/services?dc=us1");
  CHECK(log.front().path == "/v1/catalog/services");
}

TEST_CASE("consul emulator: with ACLs on, requests need the token",
          "[consul][emulator]") {
  consul_emulator_options options;
  options.acl_token = "s3cret";
  consul_emulator consul{options};
  auto anonymous = get(consul, "/v1/catalog/services");
  CHECK(anonymous.status == 403);
  CHECK(anonymous.body.rfind("Permission denied", 0) == 0);
  auto wrong =
      get(consul, "/v1/health/service/web", {{"X-Consul-Token", "guess"}});
  CHECK(wrong.status == 403);
  CHECK(wrong.body == "ACL not found");
  CHECK(put(consul, "/v1/agent/service/register", R"({"Name":"a"})").status ==
        403);

  CHECK(get(consul, "/v1/catalog/services", {{"X-Consul-Token", "s3cret"}})
            .status == 200);
  CHECK(get(consul, "/v1/catalog/services?token=s3cret").status == 200);
  CHECK(
      get(consul, "/v1/catalog/services", {{"Authorization", "Bearer s3cret"}})
          .status == 200);
  CHECK(put(consul, "/v1/agent/service/register", R"({"Name":"a"})",
            {{"X-Consul-Token", "s3cret"}})
            .status == 200);
  CHECK(consul.registered("a")->token == "s3cret");
  // Consul does not guard /v1/status.
  CHECK(get(consul, "/v1/status/leader").status == 200);

  auto log = consul.request_log();
  REQUIRE(log.size() >= 5);
  CHECK(log[0].token.empty());
  CHECK(log[1].token == "guess");
  CHECK(log[3].token == "s3cret");

  SECTION("or, as default-deny Consul, filter anonymous reads") {
    consul_emulator_options filtering = options;
    filtering.acl_filter_anonymous_reads = true;
    consul_emulator filtered{filtering};
    auto reply = get(filtered, "/v1/catalog/services");
    CHECK(reply.status == 200);
    CHECK(reply.body == "{}");
    CHECK(reply.header("X-Consul-Results-Filtered-By-ACLs") == "true");
  }
}

TEST_CASE("consul emulator: the agent's write endpoints are PUT-only",
          "[consul][emulator]") {
  consul_emulator consul;
  auto on_get = get(consul, "/v1/agent/service/register");
  CHECK(on_get.status == 405);
  CHECK(on_get.body == "method GET not allowed");
  CHECK(on_get.header("Allow") == "OPTIONS,PUT");
  auto client = client_for(consul);
  auto on_post = from(client.Post("/v1/agent/service/deregister/web-1", "",
                                  "application/json"));
  CHECK(on_post.status == 405);
  CHECK(on_post.body == "method POST not allowed");
  CHECK(put(consul, "/v1/catalog/services", "").status == 405);
}

TEST_CASE("consul emulator: an agent registration reaches the catalog with "
          "its check critical until the check passes",
          "[consul][emulator]") {
  consul_emulator consul;
  const auto start = consul.current_index();
  auto registered = put(consul, "/v1/agent/service/register",
                        fixture("agent_service_register.json"));
  REQUIRE(registered.status == 200);
  CHECK(registered.body.empty());

  auto reg = consul.registered("web-1");
  REQUIRE(reg);
  CHECK(reg->name == "web");
  CHECK(reg->weight_passing == 10);
  REQUIRE(reg->check);
  CHECK(reg->check->http == "http://127.0.0.11:8080/health");
  CHECK(reg->check->interval == "10s");
  CHECK(reg->check->timeout == "5s");
  CHECK(reg->check->deregister_critical_service_after == "90m");

  auto catalog = get(consul, "/v1/catalog/services");
  CHECK(catalog.json().at("web") == json::parse(R"(["primary","v1"])"));
  CHECK(catalog.index() > start);
  auto health = get(consul, "/v1/health/service/web");
  const auto entries = health.json();
  const auto& check = entries.at(0).at("Checks").at(1);
  CHECK(check.at("CheckID") == "service:web-1");
  CHECK(check.at("Status") == "critical");
  CHECK(check.at("Type") == "http");
  CHECK(check.at("Interval") == "10s");
  CHECK(get(consul, "/v1/health/service/web?passing").body == "[]");

  consul.set_check_status("web-1", "passing");
  auto passing = get(consul, "/v1/health/service/web?passing");
  CHECK(passing.json().as_array().size() == 1);
  CHECK(passing.index() > health.index());
  CHECK(get(consul, "/v1/catalog/services").index() == catalog.index());

  // The same registration again changes nothing (the check stays passing:
  // Consul keeps a known check's state), so no index moves.
  const auto unchanged = consul.current_index();
  put(consul, "/v1/agent/service/register",
      fixture("agent_service_register.json"));
  CHECK(consul.current_index() == unchanged);
  CHECK(consul.instance("web-1")->checks.at(0).status == "passing");

  auto deregistered = put(consul, "/v1/agent/service/deregister/web-1", "");
  CHECK(deregistered.status == 200);
  CHECK(get(consul, "/v1/health/service/web").body == "[]");
  CHECK_FALSE(consul.registered("web-1"));
  CHECK(consul.deregistrations() == std::vector<std::string>{"web-1"});
  auto again = put(consul, "/v1/agent/service/deregister/web-1", "");
  CHECK(again.status == 404);
  CHECK(again.body.rfind("Unknown service ID \"web-1\"", 0) == 0);
}

TEST_CASE("consul emulator: registrations are decoded and validated as "
          "Consul does",
          "[consul][emulator]") {
  consul_emulator consul;
  // Field names are case-insensitive; the ID defaults to the name.
  CHECK(put(consul, "/v1/agent/service/register",
            R"({"name":"api","port":9000,"tags":["x"]})")
            .status == 200);
  REQUIRE(consul.instance("api"));
  CHECK(consul.instance("api")->port == 9000);

  auto status_of = [&](const std::string& body) {
    return put(consul, "/v1/agent/service/register", body);
  };
  CHECK(status_of(R"({"ID":"x"})").body == "Missing service name");
  CHECK(status_of("").body == "Request decode failed: EOF");
  CHECK(status_of(R"({"Name":"a","Port":"80"})").status == 400);
  CHECK(status_of(R"({"Name":"a","Meta":{"orasi.url":"x"}})").body ==
        "Invalid Service Meta: Couldn't load metadata pair ('orasi.url', "
        "'x'): Key contains invalid characters");
  CHECK(status_of(R"({"Name":"a","Check":{"HTTP":"http://h/"}})").body ==
        "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, "
        "UDP or OSService checks");
  CHECK(
      status_of(R"({"Name":"a","Check":{"HTTP":"h","Interval":"10"}})").body ==
      "Request decode failed: time: missing unit in duration \"10\"");
  CHECK(status_of(R"({"Name":"a","Weights":{"Passing":0,"Warning":1}})").body ==
        "Invalid Weights: Passing must be greater than 0");
  CHECK(status_of(R"({"Name":"a","Address":"0.0.0.0"})").body ==
        "Invalid service address");
  // A given Status is the new check's first state.
  CHECK(status_of(R"({"Name":"b","Check":{"TTL":"30s","Status":"passing"}})")
            .status == 200);
  CHECK(consul.instance("b")->checks.at(0).status == "passing");
  CHECK(consul.instance("b")->checks.at(0).type == "ttl");
}

TEST_CASE("consul emulator: an agent restarted with a lower index answers "
          "lower indexes on the same port",
          "[consul][emulator]") {
  consul_emulator_options options;
  options.start_index = 100;
  consul_emulator consul{options};
  consul.register_instance(web("web-1", "passing"));
  const auto port = consul.port();
  const auto high = get(consul, "/v1/health/service/web").index();
  CHECK(high == 101);

  consul.restart(7);
  CHECK(consul.port() == port);
  auto low = get(consul, "/v1/health/service/web");
  CHECK(low.index() == 7);
  CHECK(low.json().as_array().size() == 1); // the catalog survived
  CHECK(get(consul, "/v1/catalog/services").index() == 7);

  // A client still asking with the old index waits its full `wait`.
  const auto asked_at = clock_type::now();
  auto stale =
      get(consul, "/v1/health/service/web?index=" + std::to_string(high) +
                      "&wait=200ms");
  CHECK(millis_since(asked_at) >= 200);
  CHECK(stale.index() == 7);
}

TEST_CASE("consul emulator: failure mode answers every request with 500 "
          "and releases blocked queries",
          "[consul][emulator]") {
  consul_emulator consul;
  const auto index = get(consul, "/v1/catalog/services").index();
  auto blocked =
      get_async(consul, "/v1/catalog/services?index=" + std::to_string(index) +
                            "&wait=5s");
  REQUIRE(consul.wait_for_blocked_queries(1, 2s));
  consul.set_failure_mode(500);
  REQUIRE(blocked.wait_for(1s) == std::future_status::ready);
  auto released = blocked.get();
  CHECK(released.status == 500);
  CHECK(released.body == "rpc error making call: No cluster leader");
  CHECK(put(consul, "/v1/agent/service/register", R"({"Name":"a"})").status ==
        500);
  consul.set_failure_mode(0);
  CHECK(get(consul, "/v1/catalog/services").status == 200);
  CHECK(consul.request_count("/v1/catalog/") == 3);
}

TEST_CASE("consul emulator: garbage mode returns invalid JSON with 200",
          "[consul][emulator]") {
  consul_emulator consul;
  consul.register_instance(web("web-1", "passing"));
  consul.set_garbage_mode("/v1/health/", true);
  auto garbage = get(consul, "/v1/health/service/web");
  CHECK(garbage.status == 200);
  CHECK_FALSE(garbage.header("X-Consul-Index").empty());
  json::error_code ec;
  json::parse(garbage.body, ec);
  CHECK(ec);
  CHECK_NOTHROW(get(consul, "/v1/catalog/services").json());
  consul.set_garbage_mode("/v1/health/", false);
  CHECK_NOTHROW(get(consul, "/v1/health/service/web").json());
}

TEST_CASE("consul emulator: a stopped agent refuses connections and drops "
          "blocked queries",
          "[consul][emulator]") {
  consul_emulator consul;
  const auto index = get(consul, "/v1/catalog/services").index();
  // A kept-alive connection and a blocked query are both cut by stop().
  auto idle = client_for(consul);
  idle.set_keep_alive(true);
  REQUIRE(idle.Get("/v1/status/leader"));
  auto blocked =
      get_async(consul, "/v1/catalog/services?index=" + std::to_string(index) +
                            "&wait=5s");
  REQUIRE(consul.wait_for_blocked_queries(1, 2s));
  const auto stopping = clock_type::now();
  consul.stop();
  CHECK(millis_since(stopping) < 1000);
  CHECK_FALSE(consul.running());
  REQUIRE(blocked.wait_for(1s) == std::future_status::ready);
  CHECK_FALSE(blocked.get().ok);

  auto refused = get(consul, "/v1/catalog/services");
  CHECK_FALSE(refused.ok);
  CHECK(refused.error == httplib::Error::Connection);

  consul.restart();
  CHECK(get(consul, "/v1/catalog/services").index() == index);
}

TEST_CASE("consul emulator: a blocked query whose client left stops "
          "holding a server thread",
          "[consul][emulator]") {
  consul_emulator consul;
  {
    httplib::Client client{consul.url()};
    client.set_read_timeout(200ms);
    CHECK_FALSE(client.Get("/v1/catalog/services?index=1&wait=5s"));
  }
  CHECK(orasi::test::eventually([&] { return consul.blocked_queries() == 0; },
                                1s));
}

TEST_CASE("consul emulator: destruction with a query blocked does not hang",
          "[consul][emulator]") {
  auto consul = std::make_unique<consul_emulator>();
  auto blocked = get_async(*consul, "/v1/health/service/web?index=1&wait=5m");
  REQUIRE(consul->wait_for_blocked_queries(1, 2s));
  const auto destroying = clock_type::now();
  consul.reset();
  CHECK(millis_since(destroying) < 1000);
  REQUIRE(blocked.wait_for(1s) == std::future_status::ready);
  CHECK_FALSE(blocked.get().ok);
}
