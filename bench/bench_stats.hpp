// Nearest-rank percentiles of a benchmark's samples, shared by the benches.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace orasi::bench {

struct percentiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

/// Nearest-rank percentiles (and the mean) of `xs`.
inline percentiles summarize(std::vector<double> xs) {
  percentiles result;
  result.count = xs.size();
  if (xs.empty())
    return result;
  std::sort(xs.begin(), xs.end());
  auto rank = [&](double p) {
    auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(xs.size())));
    return xs[std::clamp<size_t>(i, 1, xs.size()) - 1];
  };
  result.p50 = rank(0.50);
  result.p90 = rank(0.90);
  result.p99 = rank(0.99);
  result.max = xs.back();
  double sum = 0;
  for (double x : xs)
    sum += x;
  result.mean = sum / static_cast<double>(xs.size());
  return result;
}

} // namespace orasi::bench
