#include "runtime/service_discovery.hpp"

#include <mutex>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/supervisor.hpp"
#include "backends/static_source.hpp"
#include "messages/json_codec.hpp"
#include "messages/type_registration.hpp"

namespace orasi {

namespace {

/// How long a facade call waits for the actors before throwing timeout.
constexpr auto request_timeout = std::chrono::seconds(30);

std::shared_ptr<backends::discovery_source>
make_source(const GatewayConfig& config) {
  const auto& sd = config.service_discovery;
  switch (sd.backend) {
  case ServiceDiscoveryBackend::Static: {
    backends::static_source_options options;
    options.initial_services = sd.services;
    options.file_path = config.source_file;
    return std::make_shared<backends::static_source>(std::move(options));
  }
  case ServiceDiscoveryBackend::Etcd:
  case ServiceDiscoveryBackend::Consul:
    break;
  }
  throw GatewayError{errc::config_invalid,
                     std::string{"service_discovery.backend: \""} +
                         to_string(sd.backend) +
                         "\" is not available in this build yet (see the "
                         "README's status section)"};
}

supervisor_options
make_supervisor_options(const GatewayConfig& config,
                        std::shared_ptr<snapshot_store> store) {
  const auto& sd = config.service_discovery;
  supervisor_options options;
  options.store = std::move(store);
  options.backend.source = make_source(config);
  options.backend.refresh_interval = sd.refresh_interval;
  options.thresholds.success = sd.health_check.success_threshold;
  options.thresholds.failure = sd.health_check.failure_threshold;
  return options;
}

std::unique_ptr<caf::actor_system_config> make_system_config() {
  auto cfg = std::make_unique<caf::actor_system_config>();
  add_message_types(*cfg);
  cfg->set("logger.file-verbosity", caf::atom("quiet"));
  cfg->set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
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
  std::mutex callback_mutex;
  std::vector<caf::actor> callback_actors; // one per callback subscription

  /// Sends a request to the supervisor and waits for the reply.
  template <class Result, class... Ts>
  Result ask(Ts&&... xs) {
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
    {
      std::lock_guard<std::mutex> guard{callback_mutex};
      for (auto& callback_actor : callback_actors)
        caf::anon_send_exit(callback_actor, caf::exit_reason::user_shutdown);
      callback_actors.clear();
    }
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  }
};

ServiceDiscovery::ServiceDiscovery(const GatewayConfig& config)
    : impl_(std::make_shared<impl>()) {
  config.validate();
  impl_->config = config;
  impl_->own_config = make_system_config();
  impl_->own_system = std::make_unique<caf::actor_system>(*impl_->own_config);
  impl_->system = impl_->own_system.get();
  impl_->supervisor = impl_->system->spawn(
      supervisor, make_supervisor_options(config, impl_->store));
}

ServiceDiscovery::ServiceDiscovery(caf::actor_system& host,
                                   const GatewayConfig& config)
    : impl_(std::make_shared<impl>()) {
  config.validate();
  impl_->config = config;
  impl_->system = &host;
  impl_->supervisor =
      host.spawn(supervisor, make_supervisor_options(config, impl_->store));
}

ServiceDiscovery::~ServiceDiscovery() {
  impl_->shutdown();
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

ServiceMap ServiceDiscovery::get_services() const {
  return impl_->store->visit(
      [](const RegistrySnapshot& snapshot) { return snapshot.services; });
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

ServiceMap ServiceDiscovery::get_healthy_services() const {
  return impl_->store->visit(
      [](const RegistrySnapshot& snapshot) { return snapshot.healthy; });
}

SnapshotPtr ServiceDiscovery::snapshot() const {
  return impl_->store->load();
}

void ServiceDiscovery::with_snapshot(
    const std::function<void(const RegistrySnapshot&)>& fn) const {
  impl_->store->visit(fn);
}

Subscription ServiceDiscovery::subscribe(Callback callback) {
  auto callback_actor =
      impl_->system->spawn([callback = std::move(callback)](
                               caf::event_based_actor*) -> caf::behavior {
        return {
            [callback](changed_atom, const SnapshotPtr& snapshot) {
              callback(snapshot);
            },
        };
      });
  {
    std::lock_guard<std::mutex> guard{impl_->callback_mutex};
    impl_->callback_actors.push_back(callback_actor);
  }
  subscribe(callback_actor);
  std::weak_ptr<impl> weak_impl = impl_;
  return Subscription{[weak_impl, callback_actor] {
    auto self = weak_impl.lock();
    if (!self)
      return; // the ServiceDiscovery is gone and took the actor with it
    caf::anon_send(self->supervisor, unsubscribe_atom::value, callback_actor);
    caf::anon_send_exit(callback_actor, caf::exit_reason::user_shutdown);
    std::lock_guard<std::mutex> guard{self->callback_mutex};
    auto& actors = self->callback_actors;
    actors.erase(std::remove(actors.begin(), actors.end(), callback_actor),
                 actors.end());
  }};
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

const GatewayConfig& ServiceDiscovery::config() const {
  return impl_->config;
}

} // namespace orasi
