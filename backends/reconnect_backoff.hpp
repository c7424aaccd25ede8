// Reconnect delays for the backends' background loops: exponential with full
// jitter, so that clients recovering from the same outage do not all hit a
// member or agent at the same instant.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>

namespace orasi::backends {

class reconnect_backoff {
public:
  /// Draws a whole number of milliseconds in [low, high], both included.
  using pick_fn = std::function<long long(long long low, long long high)>;

  /// Without `pick`, delays are drawn uniformly from a thread's own RNG;
  /// tests pass one to pin them.
  reconnect_backoff(std::chrono::milliseconds min,
                    std::chrono::milliseconds max, pick_fn pick = {})
      : min_(min), max_(max), current_(min), pick_(std::move(pick)) {}

  /// A random delay in [min, current]; current then doubles up to max.
  std::chrono::milliseconds next() {
    auto low = min_.count();
    auto high = std::max(low, current_.count());
    current_ = std::min(max_, current_ * 2);
    return std::chrono::milliseconds{pick_ ? pick_(low, high)
                                           : uniform(low, high)};
  }

  /// After a success: the next failure starts from min again.
  void reset() { current_ = min_; }

private:
  static long long uniform(long long low, long long high) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    return std::uniform_int_distribution<long long>{low, high}(rng);
  }

  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
  pick_fn pick_;
};

} // namespace orasi::backends
