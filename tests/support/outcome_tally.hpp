// An outcome_sink for tests of the probe engine: counts each endpoint's
// checks, passed and failed. Thread-safe: an engine's loops (one per shard)
// deliver to it from their own threads.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "probing/check_port.hpp"

namespace orasi::test {

class outcome_tally : public outcome_sink {
public:
  void deliver(std::vector<probe_outcome> outcomes) override {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& outcome : outcomes)
      ++(outcome.passed ? passed_ : failed_)[outcome.endpoint_url];
  }

  /// Checks of `url` so far, passed or failed.
  size_t checks(const std::string& url) const {
    std::lock_guard<std::mutex> guard{mutex_};
    return count(passed_, url) + count(failed_, url);
  }

  /// Whether each of `urls` passed at least `count` checks.
  bool each_passed(const std::vector<std::string>& urls,
                   size_t at_least) const {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& url : urls)
      if (count(passed_, url) < at_least)
        return false;
    return true;
  }

  /// Failed checks of every endpoint.
  size_t failed() const {
    std::lock_guard<std::mutex> guard{mutex_};
    size_t sum = 0;
    for (auto& entry : failed_)
      sum += entry.second;
    return sum;
  }

private:
  static size_t count(const std::map<std::string, size_t>& counts,
                      const std::string& url) {
    auto found = counts.find(url);
    return found == counts.end() ? 0 : found->second;
  }

  mutable std::mutex mutex_;
  std::map<std::string, size_t> passed_; // guarded by mutex_
  std::map<std::string, size_t> failed_; // guarded by mutex_
};

} // namespace orasi::test
