#include "probing/health_checker.hpp"

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "messages/endpoint_health_tracker.hpp"
#include "messages/health_rules.hpp"
#include "probing/http_prober.hpp"

namespace orasi {

struct AdvancedHealthChecker::engine_holder {
  std::mutex mutex;
  std::unique_ptr<http_prober> engine;                     // lazily started
  std::map<std::string, endpoint_health_tracker> trackers; // by URL

  http_prober& get(const HealthCheckConfig& config) {
    std::lock_guard<std::mutex> guard{mutex};
    if (!engine) {
      http_prober_options options;
      options.keep_alive = config.keep_alive;
      options.tls_verify = config.tls_verify;
      engine = std::make_unique<http_prober>(options);
    }
    return *engine;
  }
};

namespace {

/// One attempt through the engine, waited for (with a margin over the
/// engine's own deadline in case it cannot answer at all).
attempt_result attempt_once(http_prober& engine, const probe_target& target,
                            Duration timeout, uint64_t id) {
  auto done = std::make_shared<std::promise<attempt_result>>();
  auto result = done->get_future();
  engine.submit(attempt_request{id, target, timeout},
                [done](attempt_result r) { done->set_value(std::move(r)); });
  if (result.wait_for(timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    attempt_result silence;
    silence.failure = probe_failure::timeout;
    silence.detail = "the prober did not answer";
    return silence;
  }
  return result.get();
}

/// Fills `out` from one attempt; true if it passed.
bool judge(const attempt_result& attempt, const HealthCheckConfig& config,
           CheckResult& out) {
  out.status = attempt.status;
  out.latency = std::chrono::duration_cast<Duration>(attempt.latency);
  out.reason.clear();
  if (attempt.failure != probe_failure::none) {
    out.reason =
        attempt.detail.empty() ? to_string(attempt.failure) : attempt.detail;
    return false;
  }
  out.passed =
      status_passes(attempt.status, config.expected_statuses, out.degraded);
  if (!out.passed)
    out.reason = "status " + std::to_string(attempt.status);
  return out.passed;
}

} // namespace

AdvancedHealthChecker::AdvancedHealthChecker(HealthCheckConfig config)
    : config_(std::move(config)), engine_(std::make_shared<engine_holder>()) {}

CheckResult
AdvancedHealthChecker::check(const std::string& endpoint_url) const {
  CheckResult result;
  std::string error;
  auto target =
      make_probe_target(endpoint_url, config_.health_check_path, error);
  if (!target) {
    result.reason = "invalid URL: " + error;
    return result;
  }
  auto& engine = engine_->get(config_);
  for (uint32_t attempt = 0; attempt <= config_.retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(config_.retry_backoff);
    ++result.attempts;
    auto outcome = attempt_once(engine, *target, config_.timeout, attempt + 1);
    if (judge(outcome, config_, result))
      break;
    // As in the probes: a timed-out attempt ends the check (a hang would
    // hang again); retries are for failures that come back fast.
    if (outcome.failure == probe_failure::timeout)
      break;
  }
  return result;
}

EndpointHealthStatus
AdvancedHealthChecker::check_health(const ServiceEndpoint& endpoint) {
  auto result = check(endpoint.url);
  std::lock_guard<std::mutex> guard{engine_->mutex};
  auto& tracker = engine_->trackers
                      .try_emplace(endpoint.url,
                                   health_thresholds{config_.success_threshold,
                                                     config_.failure_threshold})
                      .first->second;
  tracker.record(result.passed);
  return tracker.state();
}

HealthChecker::HealthChecker(Duration timeout, std::string path)
    : AdvancedHealthChecker([&] {
        HealthCheckConfig config;
        config.timeout = timeout;
        config.health_check_path = std::move(path);
        config.retries = 0;
        config.success_threshold = 1;
        config.failure_threshold = 1;
        return config;
      }()) {}

} // namespace orasi
