#include "actor_fixture.hpp"

#include <algorithm>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

namespace orasi::test {

namespace {

caf::actor_system_config& deterministic(caf::actor_system_config& cfg) {
  add_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

} // namespace

size_t prober_script::count(const std::string& text) const {
  return static_cast<size_t>(std::count_if(
      attempts.begin(), attempts.end(), [&](const scripted_attempt& attempt) {
        return to_url(attempt.request.target).find(text) != std::string::npos;
      }));
}

attempt_result answer_status(uint16_t status) {
  attempt_result result;
  result.status = status;
  result.latency = std::chrono::milliseconds(1);
  return result;
}

attempt_result answer_failure(probe_failure failure) {
  attempt_result result;
  result.failure = failure;
  result.latency = std::chrono::milliseconds(1);
  result.detail = to_string(failure);
  return result;
}

namespace {

prober_actor::behavior_type
scripted_prober(prober_actor::pointer self,
                std::shared_ptr<prober_script> script) {
  return {
      [self, script](attempt_request& request, caf::actor& reply_to) {
        script->attempts.push_back(
            scripted_attempt{request, reply_to, self->clock().now()});
        if (!script->responder)
          return;
        auto result = script->responder(to_url(request.target));
        result.attempt_id = request.attempt_id;
        caf::anon_send(reply_to, std::move(result));
      },
  };
}

} // namespace

ServiceInfo make_service(const std::string& name, std::vector<std::string> urls,
                         EndpointHealthStatus status) {
  ServiceInfo info;
  info.name = name;
  for (auto& url : urls) {
    ServiceEndpoint endpoint;
    endpoint.url = std::move(url);
    endpoint.health_status = status;
    info.endpoints.push_back(std::move(endpoint));
  }
  return info;
}

actor_fixture::actor_fixture()
    : sys(deterministic(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {
  // Start the simulated clock away from zero, as CAF's own fixture does.
  sched.clock().current_time += std::chrono::hours(1);
}

actor_fixture::~actor_fixture() {
  for (auto& sup : supervisors)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  if (prober)
    caf::anon_send_exit(prober, caf::exit_reason::user_shutdown);
  if (engine)
    engine->stop();
  sched.run();
}

supervisor_actor actor_fixture::spawn_supervisor() {
  return spawn_supervisor(make_options());
}

supervisor_actor actor_fixture::spawn_supervisor(supervisor_options options) {
  if (!options.observed_children)
    options.observed_children = std::make_shared<supervisor_children>();
  auto children = options.observed_children;
  supervisors.push_back(sys.spawn(supervisor, std::move(options)));
  observed[supervisors.back().address()] = std::move(children);
  return supervisors.back();
}

supervisor_options actor_fixture::make_options() {
  supervisor_options options;
  options.store = store;
  options.backend.source = source;
  options.backend.poll_interval = std::chrono::seconds(1);
  options.backend.refresh_interval = std::chrono::seconds(30);
  options.detach_backend = false;
  options.thresholds = health_thresholds{2, 3};
  options.restarts.initial_backoff = std::chrono::milliseconds(100);
  options.restarts.max_backoff = std::chrono::milliseconds(800);
  // Health changes publish after the messages already queued, so that
  // sched.run() shows them without advancing time.
  options.health_batch_window = caf::timespan{0};
  return options;
}

std::pair<registry_actor, backend_actor>
actor_fixture::children(const supervisor_actor& sup) {
  sched.run();
  auto record = observed.find(sup.address());
  REQUIRE(record != observed.end()); // spawned by spawn_supervisor()
  return {record->second->registry, record->second->backend};
}

std::vector<std::string>
actor_fixture::probed_endpoints(const supervisor_actor& sup) {
  sched.run();
  auto record = observed.find(sup.address());
  REQUIRE(record != observed.end()); // spawned by spawn_supervisor()
  std::vector<std::string> endpoints;
  for (auto& [key, probe] : record->second->probes)
    endpoints.push_back(key.first + " " + key.second);
  return endpoints;
}

probe_actor actor_fixture::probe_of(const supervisor_actor& sup,
                                    const std::string& url) {
  sched.run();
  auto record = observed.find(sup.address());
  REQUIRE(record != observed.end()); // spawned by spawn_supervisor()
  for (auto& [key, probe] : record->second->probes)
    if (key.second == url)
      return probe;
  return probe_actor{};
}

lifecycle_state actor_fixture::lifecycle(const supervisor_actor& sup) {
  auto state = ask<lifecycle_state>(sup, lifecycle_atom::value);
  REQUIRE(state);
  return *state;
}

void actor_fixture::advance(caf::timespan delta) {
  sched.advance_time(delta);
  sched.run();
}

void actor_fixture::run_for(caf::timespan duration, caf::timespan step) {
  for (caf::timespan passed{0}; passed < duration; passed += step)
    advance(step);
}

probe_settings actor_fixture::test_probe_settings() {
  probe_settings settings;
  settings.path = "/health";
  settings.timeout = std::chrono::seconds(2);
  settings.retries = 1;
  settings.interval = std::chrono::seconds(10);
  settings.fast_interval = std::chrono::seconds(1);
  settings.jitter = 0;
  settings.retry_backoff = std::chrono::milliseconds(100);
  settings.thresholds = health_thresholds{2, 3};
  return settings;
}

void actor_fixture::start_prober() {
  if (!prober)
    prober = sys.spawn(scripted_prober, script);
  if (!engine)
    engine = std::make_shared<sim_engine>(sys, prober);
}

supervisor_options
actor_fixture::make_probing_options(probe_settings settings) {
  start_prober();
  auto options = make_options();
  options.thresholds = settings.thresholds;
  probing_options probing;
  probing.settings =
      std::make_shared<const probe_settings>(std::move(settings));
  probing.engine = engine;
  probing.metrics = metrics;
  probing.seed = 42;
  options.probing = std::move(probing);
  return options;
}

void actor_fixture::answer(const scripted_attempt& attempt,
                           attempt_result result) {
  result.attempt_id = attempt.request.attempt_id;
  caf::anon_send(attempt.reply_to, std::move(result));
  sched.run();
}

namespace {

// An argument, not a capture: CAF 0.17 dereferences a null argument tuple for
// argument-less function actors, which UBSan reports.
caf::behavior version_recorder(caf::event_based_actor*,
                               std::shared_ptr<std::vector<uint64_t>> seen) {
  return {
      [seen](changed_atom, const SnapshotPtr& snapshot) {
        seen->push_back(snapshot->version);
      },
  };
}

} // namespace

caf::actor spawn_version_recorder(caf::actor_system& sys,
                                  std::shared_ptr<std::vector<uint64_t>> seen) {
  return sys.spawn(version_recorder, std::move(seen));
}

} // namespace orasi::test
