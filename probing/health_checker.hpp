// The spec's two checkers as public API. Each is a health-check policy that
// ServiceDiscovery can run for every endpoint (see its constructors), and a
// standalone tool that checks one endpoint now, blocking the caller.
#pragma once

#include <memory>
#include <string>

#include "messages/service_info.hpp"
#include "runtime/config/health_check_config.hpp"

namespace orasi {

/// The result of one check (up to 1 + retries attempts).
struct CheckResult {
  bool passed = false;
  bool degraded = false; // passed with 429
  uint16_t status = 0;   // of the deciding attempt; 0 if no response
  Duration latency{0};   // of the deciding attempt
  uint32_t attempts = 0; // attempts made
  std::string reason;    // why it failed, empty if it passed
};

/// Retries and success/failure thresholds (HealthCheckConfig).
class AdvancedHealthChecker {
public:
  /// Copies share the engine (one thread, one connection pool) and the
  /// per-URL thresholds.
  explicit AdvancedHealthChecker(HealthCheckConfig config);
  virtual ~AdvancedHealthChecker() = default;

  const HealthCheckConfig& config() const { return config_; }

  /// Checks `endpoint_url` joined with the path now: up to 1 + retries
  /// attempts with retry_backoff between them; an attempt that times out
  /// ends the check. Blocks the caller (never call it from an actor). Never
  /// throws for a failing endpoint.
  CheckResult check(const std::string& endpoint_url) const;

  /// One check of `endpoint`, fed into the thresholds this checker keeps per
  /// URL: the endpoint's state after it (Unknown until a threshold is met).
  EndpointHealthStatus check_health(const ServiceEndpoint& endpoint);

private:
  struct engine_holder;
  HealthCheckConfig config_;
  std::shared_ptr<engine_holder> engine_; // started on first use
};

/// The spec's basic checker: one attempt per check, thresholds 1/1 (the
/// last check decides).
class HealthChecker : public AdvancedHealthChecker {
public:
  HealthChecker(Duration timeout, std::string path);
};

} // namespace orasi
