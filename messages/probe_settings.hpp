// How every endpoint is checked (from HealthCheckConfig), shared by the probe
// actors, the supervisor and the probe engine that runs the schedules.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

#include "messages/endpoint_health_tracker.hpp"
#include "messages/health_types.hpp"

namespace orasi {

struct probe_settings {
  std::string path = "/health";
  caf::timespan timeout = std::chrono::seconds(5); // per attempt
  uint32_t retries = 3; // extra attempts per check, after fast failures only
  caf::timespan interval = std::chrono::seconds(10);
  /// Used while the endpoint is Unknown or changing state (HAProxy's
  /// fastinter); never longer than `interval`.
  caf::timespan fast_interval = std::chrono::seconds(1);
  /// Each wait is interval * (1 +- jitter), uniformly.
  double jitter = 0.10;
  caf::timespan retry_backoff = std::chrono::milliseconds(100);
  std::vector<StatusRange> expected_statuses{StatusRange{200, 299}};
  /// The supervisor's thresholds; they also say when an endpoint is
  /// changing state and is checked at the fast interval.
  health_thresholds thresholds;
};

/// The endpoint is Unknown or its last checks disagree with its state: it
/// is checked at the fast interval until the thresholds decide.
bool changing_state(const endpoint_health_tracker& tracker);

/// splitmix64: 8 bytes of state, where std::mt19937_64 carries 2.5 KB into
/// every one of possibly tens of thousands of schedules.
class probe_rng {
public:
  using result_type = uint64_t;
  explicit probe_rng(uint64_t seed = 0) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    auto z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  uint64_t state_;
};

/// The wait before the next check: `base` scaled by a uniform factor in
/// [1 - jitter, 1 + jitter].
caf::timespan jittered(caf::timespan base, double jitter, probe_rng& rng);

} // namespace orasi
