// The threshold state machine for one endpoint: a pure class, no actor code.
#pragma once

#include <cstdint>
#include <optional>

#include "messages/service_info.hpp"

namespace orasi {

struct health_thresholds {
  /// Consecutive passing checks that make an endpoint Healthy.
  uint32_t success = 2;
  /// Consecutive failing checks that make an endpoint Unhealthy.
  uint32_t failure = 3;
};

/// Starts Unknown; `success` consecutive passes -> Healthy; `failure`
/// consecutive fails -> Unhealthy. A result resets the opposite counter, and
/// a transition resets both, so every transition needs a full run.
class endpoint_health_tracker {
public:
  explicit endpoint_health_tracker(health_thresholds thresholds);

  /// Records one check result; returns the new state if it changed.
  std::optional<EndpointHealthStatus> record(bool passed);

  EndpointHealthStatus state() const { return state_; }
  uint32_t consecutive_passes() const { return passes_; }
  uint32_t consecutive_failures() const { return failures_; }

private:
  health_thresholds thresholds_;
  EndpointHealthStatus state_ = EndpointHealthStatus::Unknown;
  uint32_t passes_ = 0;   // consecutive passing checks
  uint32_t failures_ = 0; // consecutive failing checks
};

} // namespace orasi
