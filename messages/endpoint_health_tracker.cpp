#include "messages/endpoint_health_tracker.hpp"

#include <algorithm>

namespace orasi {

endpoint_health_tracker::endpoint_health_tracker(health_thresholds thresholds)
    : thresholds_(thresholds) {
  // A threshold of 0 would mean "transition without evidence"; treat as 1.
  thresholds_.success = std::max<uint32_t>(thresholds_.success, 1);
  thresholds_.failure = std::max<uint32_t>(thresholds_.failure, 1);
}

std::optional<EndpointHealthStatus>
endpoint_health_tracker::record(bool passed) {
  auto target =
      passed ? EndpointHealthStatus::Healthy : EndpointHealthStatus::Unhealthy;
  auto& counter = passed ? passes_ : failures_;
  auto& opposite = passed ? failures_ : passes_;
  auto threshold = passed ? thresholds_.success : thresholds_.failure;
  opposite = 0;
  if (state_ == target)
    return std::nullopt;
  if (++counter < threshold)
    return std::nullopt;
  state_ = target;
  passes_ = 0;
  failures_ = 0;
  return state_;
}

} // namespace orasi
