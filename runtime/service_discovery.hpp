// orasi::ServiceDiscovery: the spec's API over the actor runtime. Reads come
// from the registry's published snapshot (no actor round trip); writes and
// lifecycle calls are requests to the supervisor. The actor system is hidden
// behind a pimpl so that hosts do not compile CAF's headers for this one.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/health_types.hpp"
#include "messages/snapshot.hpp"
#include "probing/health_checker.hpp"
#include "runtime/config/gateway_config.hpp"
#include "runtime/config/gateway_error.hpp"

namespace caf {
class actor;
class actor_system;
} // namespace caf

namespace orasi {

namespace testing {
struct facade_options; // runtime/service_discovery_testing.hpp
struct facade_access;
} // namespace testing

/// Keeps a callback subscribed; unsubscribes when destroyed or on
/// unsubscribe(). Movable, not copyable.
class Subscription {
public:
  Subscription() = default;
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  ~Subscription();

  void unsubscribe();
  bool active() const { return static_cast<bool>(cancel_); }

private:
  friend class ServiceDiscovery;
  explicit Subscription(std::function<void()> cancel);
  std::function<void()> cancel_;
};

/// Counters about the backend connection (what /v1/metrics shows).
struct BackendMetrics {
  std::string backend;            // "static", "etcd"
  bool stale = false;             // serving last-known services
  uint64_t unreadable_values = 0; // backend values skipped: do not parse
  uint64_t reconnects = 0;        // watch streams re-established
  uint64_t relists = 0;           // full listings after a broken watch
  uint64_t lease_regrants = 0;    // registrations redone after a lost lease
  uint64_t limit_refusals = 0; // listings/changes over service_discovery.limits
};

class ServiceDiscovery {
public:
  /// Called with every new snapshot, once per version, on an actor thread.
  using Callback = std::function<void(const SnapshotPtr&)>;

  /// Runs on its own actor system. Throws GatewayError (config_invalid).
  /// Endpoints are probed as config.service_discovery.health_check says.
  explicit ServiceDiscovery(const GatewayConfig& config);

  /// Probes endpoints with `checker`'s policy instead of the config's
  /// health_check section (a HealthChecker is one attempt, thresholds 1/1).
  /// Without an interval of its own, the checker runs at
  /// service_discovery.health_check_interval.
  ServiceDiscovery(const GatewayConfig& config,
                   const AdvancedHealthChecker& checker);

  /// Embeds in a host's actor system. The host should have called
  /// orasi::add_message_types() on its config (messages then print by name).
  ServiceDiscovery(caf::actor_system& host, const GatewayConfig& config);
  ServiceDiscovery(caf::actor_system& host, const GatewayConfig& config,
                   const AdvancedHealthChecker& checker);

  /// Stops if running.
  ~ServiceDiscovery();

  ServiceDiscovery(const ServiceDiscovery&) = delete;
  ServiceDiscovery& operator=(const ServiceDiscovery&) = delete;

  /// Lists the backend and returns once the first snapshot is published.
  /// Idempotent. Throws GatewayError (backend_unavailable, config_invalid,
  /// timeout, not_running if stopped meanwhile).
  void start();

  /// Stops every actor; the last snapshot stays readable. Idempotent.
  void stop();

  /// True between a successful start() and stop().
  bool is_running() const;

  /// Stores `info` under `id` in the backend; on return the next read on
  /// this instance already contains it. Throws GatewayError.
  void register_service(const std::string& id, const ServiceInfo& info);

  /// Removes `id`; throws GatewayError (not_found if unknown).
  void deregister_service(const std::string& id);

  /// Every known service with endpoint health merged in.
  ServiceMap get_services() const;

  /// One service, or std::nullopt.
  std::optional<ServiceInfo> get_service(const std::string& id) const;

  /// One service without copying it, or null: the entry is shared with the
  /// snapshot it was read from and stays valid as long as it is held.
  ServiceEntry get_service_entry(const std::string& id) const;

  /// The routable view: services with at least one Healthy endpoint, listing
  /// only those endpoints.
  ServiceMap get_healthy_services() const;

  /// The current snapshot without copying (services, healthy view, version,
  /// stale flag); never null. Holding it keeps that version alive.
  SnapshotPtr snapshot() const;

  /// Calls `fn` with the current snapshot, without copying it and without
  /// touching its reference count: the fastest read, and the one that scales
  /// across reader threads. The reference is valid only inside `fn`. Each
  /// calling thread caches the snapshot it read (as get_service does), which
  /// stays alive until that thread reads again: meant for threads that read
  /// all the time; a pool of threads that read now and then should take
  /// snapshot().
  void
  with_snapshot(const std::function<void(const RegistrySnapshot&)>& fn) const;

  /// Calls `callback` once per new version (and at once with the current
  /// snapshot if started). Keep the Subscription to stay subscribed.
  /// Callbacks may subscribe and unsubscribe, also while this instance is
  /// being destroyed: subscribe() then returns an inactive Subscription.
  Subscription subscribe(Callback callback);

  /// Sends (changed_atom, SnapshotPtr) to `subscriber` once per version
  /// until it terminates or unsubscribe() is called.
  void subscribe(const caf::actor& subscriber);
  void unsubscribe(const caf::actor& subscriber);

  /// Re-reads the backend now (the static file, on SIGHUP).
  void reload();

  /// Counters of the active health checking (all zero when it is off).
  ProbeMetrics probe_metrics() const;

  /// Counters of the backend connection.
  BackendMetrics backend_metrics() const;

  /// The last completed check of every probed endpoint.
  ProbeResults probe_results() const;

  /// The last check and the recent checks (up to recent_checks_kept, oldest
  /// first) of each probed endpoint of these services; ids without probed
  /// endpoints are left out.
  ProbeHistories probe_history(const std::vector<std::string>& ids) const;

  /// The last endpoint state changes decided by the health checks (up to
  /// transitions_kept over all endpoints), oldest first: those whose
  /// sequence number is above `since`.
  std::vector<EndpointTransition> recent_transitions(uint64_t since = 0) const;

  /// The supervisor, for host actors: the facade's calls block their thread,
  /// and a blocked actor holds a scheduler worker that orasi's own actors
  /// need, so an actor must not call them. It sends requests instead:
  ///   request(h, t, orasi::register_atom::value, id, info) -> uint64_t
  ///   request(h, t, orasi::deregister_atom::value, id)     -> uint64_t
  ///   request(h, t, orasi::reload_atom::value)             -> uint64_t
  /// (the reply is the registry version that contains the change; errors
  /// are caf::errors of category "orasi", see messages/errors.hpp).
  caf::actor actor_handle() const;

  /// The configuration this instance runs with, without its services
  /// (service_discovery.services is empty): the backend holds those, and
  /// get_services() says what they are now.
  const GatewayConfig& config() const;

private:
  friend struct testing::facade_access;

  ServiceDiscovery(const GatewayConfig& config,
                   const HealthCheckConfig* policy);
  /// `testing`, if set, passes test doubles to the internals.
  ServiceDiscovery(caf::actor_system& host, const GatewayConfig& config,
                   const HealthCheckConfig* policy,
                   const testing::facade_options* testing = nullptr);

  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace orasi
