// A fixed-capacity ring that keeps the last N values pushed: the storage of
// each endpoint's recent checks and of the transition log in probe_metrics.
// Its memory is allocated once, with its owner, and never grows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace orasi {

/// The last `N` values pushed; a push beyond `N` drops the oldest.
template <class T, size_t N>
class bounded_ring {
public:
  static_assert(N > 0 && N <= UINT32_MAX, "a ring holds 1 to 2^32-1 values");

  static constexpr size_t capacity() { return N; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void push(T value) {
    items_[next_] = std::move(value);
    next_ = static_cast<uint32_t>((next_ + 1) % N);
    if (size_ < N)
      ++size_;
  }

  /// Calls `fn` with each value, oldest first.
  template <class F>
  void for_each(F&& fn) const {
    auto first = (next_ + N - size_) % N;
    for (size_t i = 0; i < size_; ++i)
      fn(items_[(first + i) % N]);
  }

  /// The values, oldest first.
  std::vector<T> to_vector() const {
    std::vector<T> out;
    out.reserve(size_);
    for_each([&out](const T& value) { out.push_back(value); });
    return out;
  }

private:
  std::array<T, N> items_{};
  uint32_t next_ = 0; // where the next push goes
  uint32_t size_ = 0; // values held, at most N
};

} // namespace orasi
