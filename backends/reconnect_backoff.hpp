// Reconnect delays for the backends' background loops: exponential with full
// jitter, so that clients recovering from the same outage do not all hit a
// member or agent at the same instant.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace orasi::backends {

class reconnect_backoff {
public:
  reconnect_backoff(std::chrono::milliseconds min,
                    std::chrono::milliseconds max)
      : min_(min), max_(max), current_(min) {}

  /// A random delay in [min, current]; current then doubles up to max.
  std::chrono::milliseconds next() {
    thread_local std::minstd_rand rng{std::random_device{}()};
    auto low = min_.count();
    auto high = std::max(low, current_.count());
    std::uniform_int_distribution<long long> pick{low, high};
    current_ = std::min(max_, current_ * 2);
    return std::chrono::milliseconds{pick(rng)};
  }

  /// After a success: the next failure starts from min again.
  void reset() { current_ = min_; }

private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
};

} // namespace orasi::backends
