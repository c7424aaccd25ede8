// The Consul source under the races a review found (against the Consul API
// emulator): a refresh listing racing the blocking loops, registrations
// that live on one agent while the client talks to another, ids that need
// escaping in URLs, and instance IDs of another service.
#include <functional>
#include <future>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "backends/consul_source.hpp"
#include "messages/errors.hpp"
#include "support/consul_emulator.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace orasi::backends;
using namespace std::chrono_literals;

namespace {

test::consul_instance instance(const std::string& id, const std::string& name) {
  test::consul_instance in;
  in.id = id;
  in.name = name;
  in.address = "127.0.0.1";
  in.port = 80;
  in.checks.push_back(test::consul_check{});
  return in;
}

ServiceInfo one_endpoint(const std::string& name, const std::string& url) {
  ServiceInfo info;
  info.name = name;
  info.endpoints.push_back(
      ServiceEndpoint{url, 1, EndpointHealthStatus::Unknown, {}});
  return info;
}

/// Non-blocking reads of `path` (a listing's, not a loop's long polls).
size_t plain_reads(const test::consul_emulator& agent,
                   const std::string& path) {
  size_t count = 0;
  for (const auto& request : agent.request_log())
    count += request.path == path &&
             request.target.find("index=") == std::string::npos;
  return count;
}

/// What the adapter would hold: a listing, then poll()'s deltas.
struct adapter_view {
  std::set<std::string> names;
  void take(const source_listing& listing) {
    names.clear();
    for (const auto& [id, info] : listing.services)
      names.insert(id);
  }
  void drain(consul_source& source) {
    for (;;) {
      auto update = source.poll();
      if (!update || !*update)
        return;
      for (const auto& id : (*update)->removals)
        names.erase(id);
      for (const auto& [id, info] : (*update)->listing.services)
        names.insert(id);
    }
  }
};

/// Runs `lift` when it goes out of scope.
class lift_on_exit {
public:
  explicit lift_on_exit(std::function<void()> lift) : lift_(std::move(lift)) {}
  ~lift_on_exit() { lift_(); }
  lift_on_exit(const lift_on_exit&) = delete;
  lift_on_exit& operator=(const lift_on_exit&) = delete;

private:
  std::function<void()> lift_;
};

} // namespace

TEST_CASE("consul: a refresh listing racing the loops neither loses a new "
          "service nor revives a removed one",
          "[consul][race]") {
  const int services = 400;
  test::consul_emulator_options emulator_options;
  emulator_options.threads = services + 50;
  test::consul_emulator agent{emulator_options};
  for (int i = 0; i < services; ++i)
    agent.register_instance(
        instance("s" + std::to_string(i), "s" + std::to_string(1000 + i)));
  consul_source_options options;
  options.client.agents = {agent.url()};
  // The listing is held mid-way below: longer than that may take.
  options.client.request_timeout = 30s;
  options.wait = 5s;
  consul_source source{options};
  source.set_change_listener([] {});
  adapter_view view;
  auto first = source.list();
  REQUIRE(first);
  view.take(*first);
  // The listing reads the catalog, then each service's health in name
  // order: a-gone<round>, consul, s1000, ... Held at s1000, it has read
  // `gone` from a catalog that predates the change below.
  const std::string held_path = "/v1/health/service/s1000";
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto fresh = "zz-new" + std::to_string(round);
    auto gone = "a-gone" + std::to_string(round);
    agent.register_instance(instance(gone, gone));
    REQUIRE(test::eventually([&] {
      view.drain(source);
      return view.names.count(gone) == 1;
    }));
    auto before = plain_reads(agent, held_path);
    agent.set_hold(held_path, true);
    auto listing =
        std::async(std::launch::async, [&] { return source.list(); });
    // Declared after the future: if a REQUIRE below fails, the hold is
    // lifted first, so that the future's destructor does not wait for it.
    lift_on_exit lift{[&] { agent.set_hold(held_path, false); }};
    REQUIRE(test::eventually(
        [&] { return plain_reads(agent, held_path) > before; }));
    // A service comes and another goes while the listing is held; the
    // loops see both before the listing ends.
    agent.register_instance(instance(fresh, fresh));
    agent.deregister_instance(gone);
    REQUIRE(test::eventually([&] {
      view.drain(source);
      return view.names.count(fresh) == 1 && view.names.count(gone) == 0;
    }));
    // The race is set up: the listing is still running, and ends after the
    // loops applied a newer catalog than the one it read.
    REQUIRE(listing.wait_for(0s) == std::future_status::timeout);
    agent.set_hold(held_path, false);
    auto result = listing.get();
    REQUIRE(result);
    REQUIRE(result->revision < agent.catalog_index());
    view.take(*result);
    CHECK(test::eventually(
        [&] {
          view.drain(source);
          return view.names.count(fresh) == 1 && view.names.count(gone) == 0;
        },
        5s));
  }
  source.suspend();
}

TEST_CASE("consul: a registration is removed from the agent that holds it, "
          "even after the client moved to another",
          "[consul][race]") {
  test::consul_emulator a;
  test::consul_emulator b;
  consul_source_options options;
  options.client.agents = {a.url(), b.url()};
  options.client.dial_timeout = 500ms;
  options.client.request_timeout = 2s;
  options.watch = false;
  consul_source source{options};
  REQUIRE(source.list());
  REQUIRE_FALSE(source.put("pay", one_endpoint("pay", "http://127.0.0.5:70")));
  REQUIRE(a.instance("pay"));
  a.stop();
  CHECK(source.list()); // fails over to b
  a.restart();          // a is back; b stays current
  CHECK_FALSE(source.remove("pay"));
  CHECK_FALSE(a.instance("pay"));
  // And stop() withdraws from the right agent too.
  REQUIRE_FALSE(source.put("pay", one_endpoint("pay", "http://127.0.0.5:70")));
  auto holder = b.instance("pay") ? &b : &a;
  source.suspend();
  CHECK_FALSE(holder->instance("pay"));
}

TEST_CASE("consul: ids are escaped in URLs and instance IDs of another "
          "service are refused",
          "[consul][race]") {
  test::consul_emulator agent;
  agent.register_instance(instance("web", "web"));
  consul_source_options options;
  options.client.agents = {agent.url()};
  options.watch = false;
  consul_source source{options};
  REQUIRE(source.list());
  REQUIRE_FALSE(
      source.put("web?x", one_endpoint("odd", "http://127.0.0.7:80")));
  CHECK(agent.instance("web?x"));
  REQUIRE_FALSE(source.remove("web?x"));
  CHECK_FALSE(agent.instance("web?x"));
  CHECK(agent.instance("web")); // untouched

  ServiceInfo two = one_endpoint("a", "http://127.0.0.1:80");
  two.endpoints.push_back(two.endpoints[0]);
  two.endpoints[1].url = "http://127.0.0.2:80";
  REQUIRE_FALSE(source.put("a", two)); // instances a-0 and a-1
  auto clash = source.put("a-0", one_endpoint("x", "http://127.0.0.3:80"));
  REQUIRE(clash);
  CHECK_THAT(error_message(clash), Catch::Contains("belongs to service"));
  CHECK(agent.instance("a-0")->address == "127.0.0.1");
  source.suspend();
}
