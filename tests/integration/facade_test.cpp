// ServiceDiscovery on real actor systems (its own, and a host's): the spec's
// API end to end, with real threads.
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <iostream>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>

#include "messages/actor_messages.hpp"
#include "messages/type_registration.hpp"
#include "runtime/service_discovery.hpp"
#include "test_support.hpp"

using namespace orasi;

namespace {

ServiceInfo service(const std::string& name, EndpointHealthStatus status,
                    std::vector<std::string> urls) {
  ServiceInfo info;
  info.name = name;
  for (auto& url : urls)
    info.endpoints.push_back(ServiceEndpoint{url, 1, status, {}});
  return info;
}

/// Probes off: these tests pin the facade on declared endpoint health
/// (the endpoints do not exist; probes would make them Unhealthy).
GatewayConfig no_probes() {
  GatewayConfig config;
  config.service_discovery.health_check.enabled = false;
  return config;
}

GatewayConfig config_with(ServiceMap services) {
  auto config = no_probes();
  config.service_discovery.services = std::move(services);
  return config;
}

errc kind_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const GatewayError& err) {
    return err.kind();
  }
  FAIL("expected a GatewayError");
  return errc::not_running;
}

// Host actors below are spawned with arguments, not captures: CAF 0.17
// dereferences a null argument tuple for argument-less function actors,
// which UBSan reports.

/// A host application's actor system, with orasi's types registered.
struct host_system {
  caf::actor_system_config config;
  caf::actor_system system;
  host_system() : system((add_message_types(config), config)) {}
};

struct version_log {
  std::mutex mutex;
  std::vector<uint64_t> versions;
};

caf::behavior version_logger(caf::event_based_actor*,
                             std::shared_ptr<version_log> log) {
  return {
      [log](changed_atom, const SnapshotPtr& snapshot) {
        std::lock_guard<std::mutex> guard{log->mutex};
        log->versions.push_back(snapshot->version);
      },
  };
}

caf::behavior adder(caf::event_based_actor*, int increment) {
  return {[increment](int x) { return x + increment; }};
}

void register_by_request(caf::event_based_actor* self, caf::actor handle,
                         ServiceInfo info,
                         std::shared_ptr<std::promise<uint64_t>> version) {
  self->request(handle, std::chrono::seconds(10), register_atom::value,
                std::string{"web-1"}, info)
      .then([=](uint64_t v) { version->set_value(v); },
            [=](caf::error&) { version->set_value(0); });
}

} // namespace

TEST_CASE("facade: the spec's basic usage", "[facade]") {
  ServiceDiscovery discovery{
      config_with({{"seed-1", service("seed", EndpointHealthStatus::Unknown,
                                      {"http://127.1.0.1:80"})}})};
  CHECK(!discovery.is_running());
  discovery.start();
  CHECK(discovery.is_running());
  CHECK(discovery.get_services().count("seed-1") == 1);
  CHECK(discovery.get_healthy_services().empty()); // Unknown is not routable

  discovery.register_service(
      "my-service-1", service("my-service", EndpointHealthStatus::Healthy,
                              {"http://localhost:8080"}));
  // Read-your-writes: visible at once, no waiting.
  auto found = discovery.get_service("my-service-1");
  REQUIRE(found);
  CHECK(found->health_status == ServiceHealthStatus::Healthy);
  CHECK(discovery.get_healthy_services().count("my-service-1") == 1);

  discovery.deregister_service("my-service-1");
  CHECK(!discovery.get_service("my-service-1"));
  CHECK(kind_of([&] { discovery.deregister_service("my-service-1"); }) ==
        errc::not_found);

  discovery.stop();
  CHECK(!discovery.is_running());
  // The last snapshot stays readable; writes need a running system.
  CHECK(discovery.get_services().count("seed-1") == 1);
  CHECK(kind_of([&] {
          discovery.register_service("x-1",
                                     service("x", EndpointHealthStatus::Healthy,
                                             {"http://127.1.0.2:80"}));
        }) == errc::not_running);
  discovery.stop(); // idempotent
}

TEST_CASE("facade: invalid input is rejected with a kind", "[facade]") {
  GatewayConfig bad;
  bad.service_discovery.health_check.failure_threshold = 0;
  CHECK(kind_of([&] { ServiceDiscovery discovery{bad}; }) ==
        errc::config_invalid);

  GatewayConfig consul;
  consul.service_discovery.backend = ServiceDiscoveryBackend::Consul;
  consul.service_discovery.consul.wait = std::chrono::minutes(11);
  CHECK(kind_of([&] { ServiceDiscovery discovery{consul}; }) ==
        errc::config_invalid);

  ServiceDiscovery discovery{no_probes()};
  discovery.start();
  auto valid = service("ok", EndpointHealthStatus::Healthy, {"http://h:1"});
  CHECK(kind_of([&] { discovery.register_service("a/b", valid); }) ==
        errc::backend_rejected);
  CHECK(kind_of([&] { discovery.register_service("", valid); }) ==
        errc::backend_rejected);
  auto nameless = valid;
  nameless.name.clear();
  CHECK(kind_of([&] { discovery.register_service("n-1", nameless); }) ==
        errc::backend_rejected);
  CHECK(discovery.get_services().empty());
}

TEST_CASE("facade: callbacks are called once per version until "
          "unsubscribed",
          "[facade][subscribe]") {
  ServiceDiscovery discovery{no_probes()};
  discovery.start();
  std::mutex mutex;
  std::vector<uint64_t> versions;
  auto subscription = discovery.subscribe([&](const SnapshotPtr& snapshot) {
    std::lock_guard<std::mutex> guard{mutex};
    versions.push_back(snapshot->version);
  });
  auto seen = [&] {
    std::lock_guard<std::mutex> guard{mutex};
    return versions;
  };
  REQUIRE(test::eventually([&] { return seen().size() == 1; }));
  for (int i = 0; i < 5; ++i)
    discovery.register_service(
        "svc-" + std::to_string(i),
        service("svc", EndpointHealthStatus::Healthy, {"http://127.2.0.1:80"}));
  REQUIRE(test::eventually([&] { return seen().size() == 6; }));
  CHECK(seen() == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});

  subscription.unsubscribe();
  CHECK(!subscription.active());
  discovery.register_service(
      "svc-late",
      service("svc", EndpointHealthStatus::Healthy, {"http://127.2.0.1:80"}));
  // Give a stray notification time to arrive (a negative check).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(seen().size() == 6);
}

TEST_CASE("facade: the services of the config live in the backend only",
          "[facade]") {
  auto seed =
      service("seed", EndpointHealthStatus::Unknown, {"http://127.1.0.1:80"});
  ServiceDiscovery discovery{config_with({{"seed-1", seed}})};
  discovery.start();
  CHECK(discovery.get_services().count("seed-1") == 1);
  // config() keeps every other field, not a second copy of the services.
  CHECK(discovery.config().service_discovery.services.empty());
  CHECK_FALSE(discovery.config().service_discovery.health_check.enabled);

  // Embedded, the services are still validated, and the error names one.
  host_system host_fixture;
  auto nameless = seed;
  nameless.name.clear();
  std::string message;
  try {
    ServiceDiscovery embedded{host_fixture.system,
                              config_with({{"bad-1", nameless}})};
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::config_invalid);
    message = err.what();
  }
  CHECK(message.find("service_discovery.services.bad-1") != std::string::npos);
}

TEST_CASE("facade: embedded in a host actor system, a host actor "
          "subscribes",
          "[facade][embedded]") {
  host_system host_fixture;
  auto& host = host_fixture.system;
  {
    ServiceDiscovery discovery{host, no_probes()};
    discovery.start();
    auto log = std::make_shared<version_log>();
    auto watcher = host.spawn(version_logger, log);
    discovery.subscribe(watcher);
    discovery.register_service(
        "web-1",
        service("web", EndpointHealthStatus::Healthy, {"http://127.3.0.1:80"}));
    auto count = [&] {
      std::lock_guard<std::mutex> guard{log->mutex};
      return log->versions.size();
    };
    REQUIRE(test::eventually([&] { return count() == 2; }));
    discovery.unsubscribe(watcher);
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  }
  // The facade is gone; the host system is still usable and shuts down.
  auto probe = host.spawn(adder, 1);
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
}

TEST_CASE("facade: many readers while a writer registers", "[facade]") {
  ServiceDiscovery discovery{no_probes()};
  discovery.start();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<bool> went_backwards{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i)
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done) {
        auto snapshot = discovery.snapshot();
        if (snapshot->version < last)
          went_backwards = true;
        last = snapshot->version;
        ++reads;
      }
    });
  for (int i = 0; i < 200; ++i)
    discovery.register_service(
        "svc-" + std::to_string(i),
        service("svc", EndpointHealthStatus::Healthy, {"http://127.4.0.1:80"}));
  done = true;
  for (auto& reader : readers)
    reader.join();
  CHECK(!went_backwards);
  CHECK(reads > 0);
  CHECK(discovery.get_services().size() == 200);
  CHECK(discovery.snapshot()->version == 201);
}

TEST_CASE("facade: no callback runs after unsubscribe() returns",
          "[facade][subscribe]") {
  ServiceDiscovery discovery{no_probes()};
  discovery.start();
  std::atomic<bool> unsubscribed{false};
  std::atomic<int> calls{0};
  std::atomic<int> late_calls{0};
  auto subscription = discovery.subscribe([&](const SnapshotPtr&) {
    ++calls;
    if (unsubscribed)
      ++late_calls;
    // Slow on purpose: changes queue up behind a running callback.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  for (int i = 0; i < 10; ++i)
    discovery.register_service(
        "svc-" + std::to_string(i),
        service("svc", EndpointHealthStatus::Healthy, {"http://127.7.0.1:80"}));
  REQUIRE(test::eventually([&] { return calls > 0; }));
  subscription.unsubscribe();
  unsubscribed = true;
  auto calls_at_unsubscribe = calls.load();
  // Queued notifications are dropped, not delivered late.
  discovery.register_service(
      "svc-late",
      service("svc", EndpointHealthStatus::Healthy, {"http://127.7.0.1:80"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(late_calls == 0);
  CHECK(calls == calls_at_unsubscribe);
}

TEST_CASE("facade: a callback may unsubscribe itself", "[facade][subscribe]") {
  ServiceDiscovery discovery{no_probes()};
  discovery.start();
  Subscription subscription;
  std::atomic<int> calls{0};
  subscription = discovery.subscribe([&](const SnapshotPtr&) {
    if (++calls == 2)
      subscription.unsubscribe(); // from inside: must not deadlock
  });
  // The first call (the current snapshot) may race with the assignment
  // above, so the callback unsubscribes on its second call.
  REQUIRE(test::eventually([&] { return calls == 1; }));
  auto web = service("svc", EndpointHealthStatus::Healthy, {"http://h:80"});
  discovery.register_service("svc-1", web);
  REQUIRE(test::eventually([&] { return calls == 2; }));
  discovery.register_service("svc-2", web);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(calls == 2);
}

namespace {

/// Runs `call` on a thread of its own and waits up to 10 s for it to
/// return. A deadlocked thread cannot be unwound, so on a timeout the test
/// binary says so and exits at once: ctest shows a failure, not a hang.
void must_return_within_10s(const char* what, std::function<void()> call) {
  auto done = std::async(std::launch::async, std::move(call));
  if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    std::cerr << what << " did not return within 10 s: it hangs\n";
    std::_Exit(EXIT_FAILURE);
  }
  done.get();
}

} // namespace

TEST_CASE("facade: destroyed on another thread than the calls it served",
          "[facade]") {
  auto discovery = std::make_unique<ServiceDiscovery>(no_probes());
  discovery->start(); // a blocking call from this thread, which lives on
  must_return_within_10s("~ServiceDiscovery on another thread",
                         [&] { discovery.reset(); });
}

namespace {

enum class from_callback { subscribe, subscribe_and_unsubscribe };

/// Destroys a ServiceDiscovery while one of its callbacks runs and keeps
/// subscribing (and unsubscribing each new subscription, if asked) until
/// subscribe() answers that destruction has begun with an inactive
/// Subscription. The destructor waits for that running callback; the calls
/// must not wait for the destructor in turn. No wall-clock wait: the loop
/// goes on until the destructor is past its point of no return, so a
/// destructor that holds a lock those calls need is always caught.
void destroy_while_a_callback_subscribes(from_callback what) {
  auto discovery = std::make_unique<ServiceDiscovery>(no_probes());
  discovery->start();
  auto& facade = *discovery;
  std::promise<void> entered;
  std::promise<void> destroying;
  auto destroying_started = destroying.get_future();
  std::atomic<bool> fired{false};
  std::atomic<bool> destroyed{false};
  std::atomic<int> late_calls{0};
  std::atomic<int> subscribed{0};
  std::atomic<int> refused{0};
  std::vector<Subscription> kept; // the callback's until destruction ends
  auto subscription = facade.subscribe([&](const SnapshotPtr&) {
    if (fired.exchange(true))
      return;
    entered.set_value();
    destroying_started.wait();
    for (;;) {
      Subscription more;
      try {
        more = facade.subscribe([&](const SnapshotPtr&) {
          if (destroyed)
            ++late_calls;
        });
      } catch (const GatewayError&) {
        // The destructor's stop() is shutting the registry down, which
        // the supervisor's answer to a subscription may race with.
        ++refused;
        continue;
      }
      if (!more.active())
        break;
      ++subscribed;
      if (what == from_callback::subscribe_and_unsubscribe)
        more.unsubscribe();
      else
        kept.push_back(std::move(more));
    }
  });
  REQUIRE(entered.get_future().wait_for(std::chrono::seconds(10)) ==
          std::future_status::ready);
  must_return_within_10s("~ServiceDiscovery", [&] {
    destroying.set_value();
    discovery.reset();
  });
  destroyed = true;
  kept.clear(); // unsubscribes after destruction: nothing left to do
  subscription.unsubscribe();
  INFO(subscribed << " subscriptions from the callback, " << refused
                  << " refused while the registry stopped");
  CHECK(late_calls == 0);
}

} // namespace

TEST_CASE("facade: a callback that subscribes while the facade is destroyed "
          "does not deadlock",
          "[facade][subscribe]") {
  destroy_while_a_callback_subscribes(from_callback::subscribe);
}

TEST_CASE("facade: a callback that unsubscribes while the facade is "
          "destroyed does not deadlock",
          "[facade][subscribe]") {
  destroy_while_a_callback_subscribes(from_callback::subscribe_and_unsubscribe);
}

TEST_CASE("facade: a host actor writes through requests, not blocking calls",
          "[facade][embedded]") {
  host_system host_fixture;
  auto& host = host_fixture.system;
  ServiceDiscovery discovery{host, no_probes()};
  discovery.start();
  auto version = std::make_shared<std::promise<uint64_t>>();
  auto result = version->get_future();
  auto handle = discovery.actor_handle();
  auto info = service("web", EndpointHealthStatus::Healthy, {"http://h:80"});
  host.spawn(register_by_request, handle, info, version);
  REQUIRE(result.wait_for(std::chrono::seconds(10)) ==
          std::future_status::ready);
  auto v = result.get();
  CHECK(v == 2);
  CHECK(discovery.snapshot()->version >= v);
  CHECK(discovery.get_service("web-1"));
}
