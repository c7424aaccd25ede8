// Issue 15: destroying the probe engine joins its lookup threads, which wait
// for a host-name lookup that is running. The facade shuts the engine down
// on its own thread; were the engine left to whoever drops it last, a probe
// ending on a CAF worker would hold that worker until the lookup returned,
// and a host's actors would stall meanwhile.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>

#include "messages/type_registration.hpp"
#include "runtime/service_discovery_testing.hpp"
#include "support/http_test_server.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

/// A resolve hook whose lookups block until released, as a getaddrinfo
/// that gets no answer does.
class blocking_resolver {
public:
  /// Bounded, so that a test that never releases it cannot hang for good.
  std::vector<std::string> resolve() {
    std::unique_lock<std::mutex> lock{mutex_};
    entered_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, 60s, [this] { return released_; });
    return {"127.0.0.1"};
  }

  bool wait_until_entered(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock{mutex_};
    return changed_.wait_for(lock, timeout, [this] { return entered_; });
  }

  void release() {
    std::lock_guard<std::mutex> guard{mutex_};
    released_ = true;
    changed_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;  // a lookup has started
  bool released_ = false; // lookups return
};

// Spawned with an argument, not a capture: CAF 0.17 dereferences a null
// argument tuple for argument-less function actors, which UBSan reports.
caf::behavior adder(caf::event_based_actor*, int increment) {
  return {[increment](int x) { return x + increment; }};
}

caf::actor_system_config& with_one_worker(caf::actor_system_config& config) {
  add_message_types(config);
  // One worker: an actor that blocks it stalls every other actor.
  config.set("scheduler.max-threads", size_t{1});
  return config;
}

/// A host application's actor system on one scheduler thread, with an
/// actor of its own that answers requests.
struct one_worker_host {
  caf::actor_system_config config;
  caf::actor_system system;
  caf::actor answering;

  one_worker_host()
      : system(with_one_worker(config)), answering(system.spawn(adder, 1)) {}
  ~one_worker_host() {
    caf::anon_send_exit(answering, caf::exit_reason::user_shutdown);
  }

  /// The host's actor answers a request within `timeout`; the timeout
  /// comes from CAF's clock thread, not from the worker.
  bool answers_within(caf::timespan timeout) {
    caf::scoped_actor self{system};
    bool answered = false;
    self->request(answering, timeout, 41)
        .receive([&](int x) { answered = x == 42; }, [](caf::error&) {});
    return answered;
  }
};

/// Probes an endpoint named by host name (the hook resolves it to the
/// server), checking often, so that a lookup starts soon after start().
GatewayConfig probing_a_host_name(uint16_t port) {
  GatewayConfig config;
  auto& hc = config.service_discovery.health_check;
  hc.health_check_path = "/health";
  hc.interval = 1s;
  hc.fast_interval = 100ms;
  hc.timeout = 1s;
  ServiceInfo info;
  info.name = "named";
  info.endpoints.push_back(
      ServiceEndpoint{"http://probe-host.test:" + std::to_string(port),
                      1,
                      EndpointHealthStatus::Unknown,
                      {}});
  config.service_discovery.services["named-1"] = std::move(info);
  return config;
}

} // namespace

TEST_CASE("facade: destroyed during a host-name lookup, it waits for the "
          "lookup on its own thread while the host's only worker runs on",
          "[facade][embedded][dns]") {
  test::http_test_server server;
  one_worker_host host;
  // The facade's actors are the ones above this count.
  auto host_actors = host.system.registry().running();
  auto resolver = std::make_shared<blocking_resolver>();
  testing::facade_options options;
  options.resolve_hook = [resolver](const std::string&) {
    return resolver->resolve();
  };
  auto discovery = testing::facade_access::embedded(
      host.system, probing_a_host_name(server.port()), options);
  std::atomic<bool> destroyed{false};
  std::thread destroyer;
  // On every way out, a failed REQUIRE too: the lookup returns, so that a
  // blocked thread (the destroyer's, or the worker) can finish.
  struct release_and_join {
    blocking_resolver& resolver;
    std::thread& destroyer;
    ~release_and_join() {
      resolver.release();
      if (destroyer.joinable())
        destroyer.join();
    }
  } cleanup{*resolver, destroyer};

  discovery->start();
  REQUIRE(resolver->wait_until_entered(30s));
  destroyer = std::thread{[&] {
    discovery->stop();
    discovery.reset();
    destroyed = true;
  }};
  // The facade's actors end on the host's one worker; as they do, and
  // after, the host's own actor answers. Had the last of them destroyed
  // the engine, the worker would be joining the lookup thread instead.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (host.system.registry().running() > host_actors) {
    REQUIRE(host.answers_within(2s));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms); // polling the count, not a wait
  }
  REQUIRE(host.answers_within(2s));
  // The destructor waits for the lookup, on its own thread.
  CHECK_FALSE(destroyed);
  resolver->release();
  destroyer.join();
  CHECK(destroyed);
  CHECK(host.answers_within(2s));
}
