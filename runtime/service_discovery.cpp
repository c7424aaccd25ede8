#include "runtime/service_discovery.hpp"

#include <atomic>
#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/spdlog.h>

#include <random>

#include "actors/supervisor.hpp"
#include "backends/consul_source.hpp"
#include "backends/etcd_source.hpp"
#include "backends/static_source.hpp"
#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "messages/type_registration.hpp"
#include "probing/sharded_engine.hpp"
#include "runtime/consul_backend.hpp"
#include "runtime/etcd_backend.hpp"
#include "runtime/service_discovery_testing.hpp"

namespace orasi {

namespace {

/// How long a facade call waits for the actors before throwing timeout.
constexpr auto request_timeout = std::chrono::seconds(30);

/// Reads a changed config file for the static backend: the whole file must
/// be valid, and changes outside the services are reported, since they take
/// effect only on restart.
caf::expected<ServiceMap> reload_config_services(const GatewayConfig& running,
                                                 const std::string& path) {
  try {
    auto next = GatewayConfig::from_file(path);
    auto ignored = restart_only_changes(running, next);
    if (!ignored.empty())
      spdlog::warn("{}: changes to {} take effect on restart only", path,
                   ignored);
    return std::move(next.service_discovery.services);
  } catch (const GatewayError& err) {
    return make_error(err.kind(), err.message());
  }
}

std::shared_ptr<backends::discovery_source>
make_source(const GatewayConfig& config) {
  const auto& sd = config.service_discovery;
  switch (sd.backend) {
  case ServiceDiscoveryBackend::Static: {
    backends::static_source_options options;
    options.initial_services = sd.services;
    options.file_path = config.source_file;
    // A reload compares only the restart-only fields with the running
    // config; the services are the source's, so the copy kept for that
    // does not hold them a second time.
    options.load_services =
        [running = restart_only_fields(config)](const std::string& path) {
          return reload_config_services(running, path);
        };
    return std::make_shared<backends::static_source>(std::move(options));
  }
  case ServiceDiscoveryBackend::Etcd:
    return std::make_shared<backends::etcd_source>(
        etcd_source_options_from(sd));
  case ServiceDiscoveryBackend::Consul:
    return std::make_shared<backends::consul_source>(
        consul_source_options_from(sd));
  }
  throw GatewayError{errc::config_invalid,
                     std::string{"service_discovery.backend: unknown \""} +
                         to_string(sd.backend) + "\""};
}

/// `config` as given (what a reloaded file is compared with); `effective`
/// with a checker's policy applied, if any.
supervisor_options
make_supervisor_options(const GatewayConfig& config,
                        const GatewayConfig& effective,
                        std::shared_ptr<snapshot_store> store) {
  const auto& sd = effective.service_discovery;
  supervisor_options options;
  options.store = std::move(store);
  options.backend.source = make_source(config);
  options.backend.refresh_interval = sd.refresh_interval;
  options.backend.limits = {sd.limits.max_services, sd.limits.max_endpoints};
  options.thresholds.success = sd.health_check.success_threshold;
  options.thresholds.failure = sd.health_check.failure_threshold;
  return options;
}

/// A check of an endpoint that never answers ends at its first timeout (a
/// timed-out attempt is not retried), so with timeout <= interval a hang is
/// out within (failure_threshold x interval + timeout) x 1.1. A longer
/// timeout makes such checks run back to back instead.
void warn_if_checks_outlast_interval(const ServiceDiscoveryConfig& sd) {
  const auto& hc = sd.health_check;
  if (!hc.enabled)
    return;
  auto interval = sd.effective_health_check_interval();
  if (hc.timeout <= interval)
    return;
  spdlog::warn("health_check: the timeout {} is longer than the interval {}: "
               "checks of an endpoint that never answers run back to back, "
               "and it is out after about {}",
               format_duration(hc.timeout), format_duration(interval),
               format_duration(hc.timeout * hc.failure_threshold));
}

probe_settings make_probe_settings(const ServiceDiscoveryConfig& sd) {
  const auto& hc = sd.health_check;
  probe_settings settings;
  settings.path = hc.health_check_path;
  settings.timeout = hc.timeout;
  settings.retries = hc.retries;
  settings.interval = sd.effective_health_check_interval();
  settings.fast_interval = hc.fast_interval;
  settings.jitter = hc.jitter_percent / 100.0;
  settings.retry_backoff = hc.retry_backoff;
  settings.expected_statuses = hc.expected_statuses;
  settings.thresholds = {hc.success_threshold, hc.failure_threshold};
  return settings;
}

std::unique_ptr<caf::actor_system_config> make_system_config() {
  auto cfg = std::make_unique<caf::actor_system_config>();
  add_message_types(*cfg);
  cfg->set("logger.file-verbosity", caf::atom("quiet"));
  cfg->set("logger.console-verbosity", caf::atom("quiet"));
  // CAF's default idle workers spin, then poll many times before they
  // block: at our message rates (a few per check) that costs far more CPU
  // than the work itself (bench/RESULTS.md has the measurement).
  cfg->set("work-stealing.aggressive-poll-attempts", size_t{0});
  cfg->set("work-stealing.moderate-poll-attempts", size_t{0});
  // A blocked worker wakes when a job is queued to it; the timeout only
  // bounds how long queued work waits to be stolen by another worker. At
  // CAF's 10 ms every idle worker woke 100 times a second, most of a small
  // fleet's CPU (bench/RESULTS.md, fixed cost).
  cfg->set("work-stealing.relaxed-sleep-duration",
           caf::timespan{std::chrono::milliseconds(100)});
  return cfg;
}

} // namespace

namespace {

/// Spawning or making a scoped_actor makes the calling thread hold a
/// reference to the actor system's logger (CAF 0.17), and ~actor_system
/// waits until the logger is gone: a host thread that called in and lives
/// on would hang the destructor running on another thread. This puts the
/// thread's logger back as it was when the call ends: none stays none, and
/// the logger of the thread's own system stays. A thread that held another
/// system's logger is left with none (CAF offers no way back to it), which
/// costs it CAF's log lines, not a hang.
class thread_logger_guard {
public:
  thread_logger_guard() : before_(caf::logger::current_logger()) {}
  ~thread_logger_guard() {
    if (caf::logger::current_logger() != before_)
      caf::logger::set_current_actor_system(nullptr);
  }
  thread_logger_guard(const thread_logger_guard&) = delete;
  thread_logger_guard& operator=(const thread_logger_guard&) = delete;

private:
  caf::logger* before_;
};

/// Lets a callback run only while its subscription is active. Closing takes
/// the same (recursive) mutex a running callback holds, so once close()
/// returns no callback is running or will run, unless close() was called
/// from inside the callback itself, which then finishes normally.
struct callback_gate {
  std::recursive_mutex mutex;
  bool open = true;

  void close() {
    std::lock_guard<std::recursive_mutex> guard{mutex};
    open = false;
  }

  void call(const ServiceDiscovery::Callback& callback,
            const SnapshotPtr& snapshot) {
    std::lock_guard<std::recursive_mutex> guard{mutex};
    if (open)
      callback(snapshot);
  }
};

/// One callback subscription: the actor that receives the changes and the
/// gate that its callback passes.
struct callback_subscription {
  caf::actor receiver;
  std::shared_ptr<callback_gate> gate;
};

/// The actor behind a callback subscription. (Spawned with arguments rather
/// than as a capturing lambda: CAF 0.17 dereferences a null argument tuple
/// for argument-less function actors, which UBSan reports.)
caf::behavior callback_receiver(caf::event_based_actor*,
                                std::shared_ptr<callback_gate> gate,
                                ServiceDiscovery::Callback callback) {
  return {
      [gate, callback](changed_atom, const SnapshotPtr& snapshot) {
        gate->call(callback, snapshot);
      },
  };
}

} // namespace

// -- Subscription
// ---------------------------------------------------------------

Subscription::Subscription(std::function<void()> cancel)
    : cancel_(std::move(cancel)) {}

Subscription::Subscription(Subscription&& other) noexcept
    : cancel_(std::move(other.cancel_)) {
  other.cancel_ = nullptr;
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    unsubscribe();
    cancel_ = std::move(other.cancel_);
    other.cancel_ = nullptr;
  }
  return *this;
}

Subscription::~Subscription() {
  unsubscribe();
}

void Subscription::unsubscribe() {
  if (cancel_) {
    auto cancel = std::move(cancel_);
    cancel_ = nullptr;
    cancel();
  }
}

// -- ServiceDiscovery
// -----------------------------------------------------------

struct ServiceDiscovery::impl {
  GatewayConfig config;
  std::unique_ptr<caf::actor_system_config> own_config; // own system only
  std::unique_ptr<caf::actor_system> own_system;        // own system only
  caf::actor_system* system = nullptr;
  std::shared_ptr<snapshot_store> store = std::make_shared<snapshot_store>();
  supervisor_actor supervisor;
  std::shared_ptr<orasi::probe_metrics> metrics =
      std::make_shared<orasi::probe_metrics>();
  std::shared_ptr<backends::discovery_source> source; // for its counters
  std::shared_ptr<sharded_engine> engine;             // null without probing
  std::shared_ptr<std::atomic<uint64_t>> limit_refusals =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::mutex callback_mutex;
  std::vector<callback_subscription> callbacks; // guarded by callback_mutex
  bool shutting_down = false; // no more callbacks; guarded by callback_mutex

  /// Sends a request to the supervisor and waits for the reply.
  template <class Result, class... Ts>
  Result ask(Ts&&... xs) {
    thread_logger_guard logger_guard; // outlives `self`
    caf::scoped_actor self{*system};
    std::optional<Result> result;
    caf::error failure;
    self->request(supervisor, request_timeout, std::forward<Ts>(xs)...)
        .receive([&](Result& value) { result = std::move(value); },
                 [&](caf::error& err) { failure = std::move(err); });
    if (failure)
      throw GatewayError::from(failure);
    return std::move(*result);
  }

  void shutdown() {
    try {
      ask<caf::ok_atom>(stop_atom::value);
    } catch (const GatewayError&) {
      // Shutting down regardless: the exits below end every actor.
    }
    std::vector<callback_subscription> closing;
    {
      std::lock_guard<std::mutex> guard{callback_mutex};
      shutting_down = true;
      closing.swap(callbacks);
    }
    // Unlocked: close() waits for a running callback, which may itself call
    // subscribe() or unsubscribe(), and both take callback_mutex.
    for (auto& subscription : closing) {
      subscription.gate->close(); // no callback runs after destruction
      caf::anon_send_exit(subscription.receiver,
                          caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  }

  /// Stops the probe engine here, on the facade's thread: probes still
  /// ending hold it, and the last of them to go would otherwise join the
  /// engine's threads on a CAF worker. Their late calls are no-ops.
  void shutdown_engine() {
    if (engine)
      engine->shutdown();
  }

  /// Validates, then spawns the supervisor and, if health checking is on,
  /// the prober. A checker's `policy` replaces the health_check section;
  /// `testing` passes a test's doubles on.
  void spawn_actors(const GatewayConfig& given,
                    const HealthCheckConfig* policy = nullptr,
                    const testing::facade_options* testing = nullptr) {
    // The services go to the backend, which holds them from here on; the
    // facade's own copy leaves them out (one copy of every endpoint fewer).
    config = restart_only_fields(given);
    if (policy)
      config.service_discovery.health_check = *policy;
    config.validate();
    for (const auto& [id, info] : given.service_discovery.services)
      if (auto err =
              validate_service(id, info, "service_discovery.services." + id))
        throw GatewayError{errc::config_invalid, error_message(err)};
    auto options = make_supervisor_options(given, config, store);
    source = options.backend.source;
    options.backend.limit_refusals = limit_refusals;
    const auto& sd = config.service_discovery;
    const auto& hc = sd.health_check;
    // Consul has health checks of its own: health_source says whose count.
    bool on_consul = sd.backend == ServiceDiscoveryBackend::Consul;
    auto consul_health = sd.consul.health_source;
    bool probing = hc.enabled &&
                   !(on_consul && consul_health == ConsulHealthSource::Consul);
    options.backend_vetoes =
        probing && on_consul && consul_health == ConsulHealthSource::Both;
    if (probing) {
      http_prober_options engine_options;
      engine_options.keep_alive = hc.keep_alive;
      engine_options.tls_verify = hc.tls_verify;
      if (testing)
        engine_options.resolve_hook = testing->resolve_hook;
      if (hc.max_idle_connections > 0)
        engine_options.max_idle_connections = hc.max_idle_connections;
      // The probes share the engine and run their schedules in it; the
      // facade shuts it down (see shutdown_engine()). With one thread the
      // sharded engine is the one prober: a handle is the prober's own and
      // a call costs one call more, no lock and no hop; the checks
      // themselves never leave the prober's loop.
      engine =
          std::make_shared<sharded_engine>(hc.engine_threads, engine_options);
      probing_options probing;
      probing.engine = engine;
      probing.settings = std::make_shared<const probe_settings>(
          make_probe_settings(config.service_discovery));
      probing.metrics = metrics;
      probing.seed = std::random_device{}();
      probing.panic_threshold_percent = hc.panic_threshold_percent;
      options.probing = std::move(probing);
    }
    warn_if_checks_outlast_interval(config.service_discovery);
    supervisor = system->spawn(orasi::supervisor, std::move(options));
  }
};

ServiceDiscovery::ServiceDiscovery(const GatewayConfig& config)
    : ServiceDiscovery(config, nullptr) {}

ServiceDiscovery::ServiceDiscovery(const GatewayConfig& config,
                                   const AdvancedHealthChecker& checker)
    : ServiceDiscovery(config, &checker.config()) {}

ServiceDiscovery::ServiceDiscovery(const GatewayConfig& config,
                                   const HealthCheckConfig* policy)
    : impl_(std::make_shared<impl>()) {
  thread_logger_guard logger_guard;
  config.validate(); // before an actor system exists
  impl_->own_config = make_system_config();
  impl_->own_system = std::make_unique<caf::actor_system>(*impl_->own_config);
  impl_->system = impl_->own_system.get();
  impl_->spawn_actors(config, policy);
}

ServiceDiscovery::ServiceDiscovery(caf::actor_system& host,
                                   const GatewayConfig& config)
    : ServiceDiscovery(host, config, nullptr) {}

ServiceDiscovery::ServiceDiscovery(caf::actor_system& host,
                                   const GatewayConfig& config,
                                   const AdvancedHealthChecker& checker)
    : ServiceDiscovery(host, config, &checker.config()) {}

ServiceDiscovery::ServiceDiscovery(caf::actor_system& host,
                                   const GatewayConfig& config,
                                   const HealthCheckConfig* policy,
                                   const testing::facade_options* testing)
    : impl_(std::make_shared<impl>()) {
  thread_logger_guard logger_guard;
  impl_->system = &host;
  impl_->spawn_actors(config, policy, testing);
}

ServiceDiscovery::~ServiceDiscovery() {
  impl_->shutdown();
  impl_->shutdown_engine();
  // An own actor system waits for all its actors in its destructor.
  impl_->own_system.reset();
}

void ServiceDiscovery::start() {
  impl_->ask<uint64_t>(start_atom::value);
}

void ServiceDiscovery::stop() {
  impl_->ask<caf::ok_atom>(stop_atom::value);
}

bool ServiceDiscovery::is_running() const {
  return impl_->ask<lifecycle_state>(lifecycle_atom::value) ==
         lifecycle_state::running;
}

void ServiceDiscovery::register_service(const std::string& id,
                                        const ServiceInfo& info) {
  if (auto err = validate_service(id, info, "service \"" + id + "\""))
    throw GatewayError{errc::backend_rejected, error_message(err)};
  impl_->ask<uint64_t>(register_atom::value, id, info);
}

void ServiceDiscovery::deregister_service(const std::string& id) {
  impl_->ask<uint64_t>(deregister_atom::value, id);
}

// The whole-map reads copy anyway: they go past the per-thread cache, so
// that a thread reading once (an admin API request) does not keep that
// snapshot alive afterwards.
ServiceMap ServiceDiscovery::get_services() const {
  return impl_->store->current()->services.to_map();
}

std::optional<ServiceInfo>
ServiceDiscovery::get_service(const std::string& id) const {
  return impl_->store->visit(
      [&id](const RegistrySnapshot& snapshot) -> std::optional<ServiceInfo> {
        auto service = snapshot.services.find(id);
        if (service == snapshot.services.end())
          return std::nullopt;
        return service->second;
      });
}

ServiceEntry ServiceDiscovery::get_service_entry(const std::string& id) const {
  return impl_->store->visit([&id](const RegistrySnapshot& snapshot) {
    return snapshot.services.entry(id);
  });
}

ServiceMap ServiceDiscovery::get_healthy_services() const {
  return impl_->store->current()->healthy.to_map();
}

// A shared pointer touches the reference count anyway; the per-thread cache
// would only add a pinned old snapshot per thread (64 of them in the admin
// API's thread pool, found by scripts/soak.sh).
SnapshotPtr ServiceDiscovery::snapshot() const {
  return impl_->store->current();
}

void ServiceDiscovery::with_snapshot(
    const std::function<void(const RegistrySnapshot&)>& fn) const {
  impl_->store->visit(fn);
}

Subscription ServiceDiscovery::subscribe(Callback callback) {
  thread_logger_guard logger_guard;
  auto gate = std::make_shared<callback_gate>();
  caf::actor receiver;
  {
    std::lock_guard<std::mutex> guard{impl_->callback_mutex};
    // Only a callback can call in now: the destructor is waiting for it.
    if (impl_->shutting_down)
      return Subscription{};
    receiver =
        impl_->system->spawn(callback_receiver, gate, std::move(callback));
    impl_->callbacks.push_back(callback_subscription{receiver, gate});
  }
  std::weak_ptr<impl> weak_impl = impl_;
  // Made before the request, so that a request that throws unsubscribes.
  Subscription subscription{[weak_impl, receiver, gate] {
    gate->close();
    auto self = weak_impl.lock();
    if (!self)
      return; // the ServiceDiscovery is gone and took the actor with it
    caf::anon_send(self->supervisor, unsubscribe_atom::value, receiver);
    caf::anon_send_exit(receiver, caf::exit_reason::user_shutdown);
    std::lock_guard<std::mutex> guard{self->callback_mutex};
    auto& callbacks = self->callbacks;
    callbacks.erase(std::remove_if(callbacks.begin(), callbacks.end(),
                                   [&](const callback_subscription& x) {
                                     return x.receiver == receiver;
                                   }),
                    callbacks.end());
  }};
  subscribe(receiver);
  return subscription;
}

void ServiceDiscovery::subscribe(const caf::actor& subscriber) {
  impl_->ask<uint64_t>(subscribe_atom::value, subscriber);
}

void ServiceDiscovery::unsubscribe(const caf::actor& subscriber) {
  caf::anon_send(impl_->supervisor, unsubscribe_atom::value, subscriber);
}

void ServiceDiscovery::reload() {
  impl_->ask<uint64_t>(reload_atom::value);
}

ProbeMetrics ServiceDiscovery::probe_metrics() const {
  return impl_->metrics->read();
}

ProbeResults ServiceDiscovery::probe_results() const {
  return impl_->metrics->results();
}

ProbeHistories
ServiceDiscovery::probe_history(const std::vector<std::string>& ids) const {
  return impl_->metrics->histories(ids);
}

std::vector<EndpointTransition>
ServiceDiscovery::recent_transitions(uint64_t since) const {
  return impl_->metrics->transitions(since);
}

BackendMetrics ServiceDiscovery::backend_metrics() const {
  BackendMetrics out;
  out.backend = impl_->source->name();
  out.stale = impl_->store->current()->stale;
  auto counters = impl_->source->counters();
  out.unreadable_values = counters.unreadable_values;
  out.reconnects = counters.reconnects;
  out.relists = counters.relists;
  out.lease_regrants = counters.lease_regrants;
  out.limit_refusals = impl_->limit_refusals->load();
  return out;
}

caf::actor ServiceDiscovery::actor_handle() const {
  return caf::actor_cast<caf::actor>(impl_->supervisor);
}

const GatewayConfig& ServiceDiscovery::config() const {
  return impl_->config;
}

// -- Tests only: runtime/service_discovery_testing.hpp

std::unique_ptr<ServiceDiscovery>
testing::facade_access::embedded(caf::actor_system& host,
                                 const GatewayConfig& config,
                                 const facade_options& options) {
  return std::unique_ptr<ServiceDiscovery>{
      new ServiceDiscovery(host, config, nullptr, &options)};
}

} // namespace orasi
