// HealthCheckConfig: how endpoints are actively checked. The spec's fields
// come first, in the spec's order, so that
//   HealthCheckConfig{timeout, path, interval, retries, success, failure}
// reads as in the original module.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/health_types.hpp"
#include "runtime/config/config_fields.hpp"

namespace orasi {

/// Config durations have millisecond resolution ("250ms", "30s", "1.5m").
using Duration = std::chrono::milliseconds;

/// The most probe-engine threads a config may ask for.
constexpr uint32_t max_engine_threads = 64;

struct HealthCheckConfig {
  /// Per attempt: connect + send + receive.
  Duration timeout = std::chrono::seconds(5);
  /// Joined to each endpoint URL ("http://h:80/api" -> "/api/health").
  std::string health_check_path = "/health";
  /// Between checks of one endpoint. Unset: the gateway config's
  /// service_discovery.health_check_interval.
  std::optional<Duration> interval;
  /// Extra attempts after a failed one within one check.
  uint32_t retries = 3;
  /// Consecutive passing checks that make an endpoint Healthy.
  uint32_t success_threshold = 2;
  /// Consecutive failing checks that make an endpoint Unhealthy.
  uint32_t failure_threshold = 3;
  /// Statuses that pass (default 200-299). 429 always passes, degraded.
  std::vector<StatusRange> expected_statuses{StatusRange{200, 299}};

  // -- beyond the spec ------------------------------------------------------

  /// false: no probes; endpoints keep the health the backend declares.
  bool enabled = true;
  /// Each wait is interval * (1 +- jitter_percent / 100), so that endpoints
  /// added together do not stay in lockstep.
  uint32_t jitter_percent = 10;
  /// The interval while an endpoint is Unknown or changing state (HAProxy's
  /// fastinter); capped at the interval.
  Duration fast_interval = std::chrono::seconds(1);
  /// The pause before a retry within one check.
  Duration retry_backoff = std::chrono::milliseconds(100);
  /// Reuse one connection per endpoint between checks.
  bool keep_alive = true;
  /// Verify https certificates (off: a check tests liveness, not trust).
  bool tls_verify = false;
  /// The panic guard: no endpoint is taken out while that would leave more
  /// than this share (percent) of all probed endpoints Unhealthy; their
  /// last state is kept until fewer fail. 0 (the default) turns it off.
  uint32_t panic_threshold_percent = 0;
  /// Event-loop threads of the probe engine (1..max_engine_threads);
  /// endpoints are spread over them by a hash of their URL. One is enough
  /// on 2 cores.
  uint32_t engine_threads = 1;
  /// Idle keep-alive connections the engine keeps in all (0: no bound); a
  /// connection returned beyond it is closed. Divided over engine_threads.
  uint32_t max_idle_connections = 0;

  bool operator==(const HealthCheckConfig& other) const;
  bool operator!=(const HealthCheckConfig& other) const {
    return !(*this == other);
  }
};

/// The description of `service_discovery.health_check` (see
/// runtime/config/config_fields.hpp), in the order the fields are read: a
/// table, since the spec's health_check_path is "path" in the file.
constexpr auto config_fields(const HealthCheckConfig*) {
  using C = HealthCheckConfig;
  return std::make_tuple(
      config_field{"enabled", &C::enabled},
      config_field{"path", &C::health_check_path},
      config_field{"timeout", &C::timeout},
      config_field{"interval", &C::interval},
      config_field{"retries", &C::retries},
      config_field{"success_threshold", &C::success_threshold},
      config_field{"failure_threshold", &C::failure_threshold},
      config_field{"expected_statuses", &C::expected_statuses},
      config_field{"jitter_percent", &C::jitter_percent},
      config_field{"fast_interval", &C::fast_interval},
      config_field{"retry_backoff", &C::retry_backoff},
      config_field{"keep_alive", &C::keep_alive},
      config_field{"tls_verify", &C::tls_verify},
      config_field{"panic_threshold_percent", &C::panic_threshold_percent},
      config_field{"engine_threads", &C::engine_threads},
      config_field{"max_idle_connections", &C::max_idle_connections});
}

} // namespace orasi
