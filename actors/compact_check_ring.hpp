// The ring of an endpoint's recent checks as probe_metrics keeps it: the
// public CheckSample (16 bytes, an absolute time each) goes in and comes out,
// but each check is held in 11 bytes. Every probed endpoint holds a full
// ring, so this is most of the memory kept per endpoint.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "messages/health_types.hpp"

namespace orasi {

/// The last `N` checks pushed, oldest first; a push beyond `N` drops the
/// oldest. What comes out is exactly what went in, whatever the times:
/// only a failure beyond the last probe_failure enumerator is not kept
/// (its low 6 bits are).
template <size_t N>
class compact_check_ring {
public:
  static_assert(N > 0 && N <= UINT8_MAX, "a ring holds 1 to 255 checks");

  /// The bytes that one check takes in the ring.
  static constexpr size_t bytes_per_check =
      sizeof(uint32_t) + sizeof(uint32_t) + sizeof(uint16_t) + sizeof(uint8_t);

  static constexpr size_t capacity() { return N; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void push(const CheckSample& sample) {
    const size_t slot = next_;
    if (wide_)
      (*wide_)[slot] = sample.at_ms;
    else if (size_ == 0)
      base_ms_ = sample.at_ms;
    else if (!fits(sample.at_ms))
      rebase(slot, sample.at_ms);
    if (!wide_)
      offset_ms_[slot] = static_cast<uint32_t>(sample.at_ms - base_ms_);
    latency_us_[slot] = sample.latency_us;
    status_[slot] = sample.status_code;
    kind_[slot] = pack(sample.verdict, sample.failure);
    next_ = static_cast<uint8_t>((slot + 1) % N);
    if (size_ < N)
      ++size_;
    if (wide_)
      try_narrow();
  }

  /// Calls `fn` with each check, oldest first.
  template <class F>
  void for_each(F&& fn) const {
    const size_t first = (next_ + N - size_) % N;
    for (size_t i = 0; i < size_; ++i)
      fn(at((first + i) % N));
  }

  /// The checks, oldest first.
  std::vector<CheckSample> to_vector() const {
    std::vector<CheckSample> out;
    out.reserve(size_);
    for_each([&out](const CheckSample& sample) { out.push_back(sample); });
    return out;
  }

  /// The last check pushed; the ring must not be empty.
  CheckSample newest() const { return at((next_ + N - 1) % N); }

  /// Tests only: true while the checks kept span more than 2^32 ms (about
  /// 49.7 days, a clock jump), so that each keeps its full time.
  bool holds_full_times() const { return wide_ != nullptr; }

private:
  static constexpr uint32_t max_offset = std::numeric_limits<uint32_t>::max();
  static constexpr uint8_t failure_bits = 0x3f;

  static_assert(static_cast<uint8_t>(probe_failure::local) <= failure_bits,
                "every probe_failure fits in the low 6 bits");
  static_assert(static_cast<uint8_t>(check_verdict::failed) <= 3,
                "every check_verdict fits in the high 2 bits");

  static uint8_t pack(check_verdict verdict, probe_failure failure) {
    return static_cast<uint8_t>(static_cast<uint8_t>(verdict) << 6 |
                                (static_cast<uint8_t>(failure) & failure_bits));
  }

  /// Whether `at_ms` is an offset from the base; the subtraction is done
  /// unsigned, so that times far apart cannot overflow it.
  bool fits(int64_t at_ms) const {
    return at_ms >= base_ms_ &&
           static_cast<uint64_t>(at_ms) - static_cast<uint64_t>(base_ms_) <=
               max_offset;
  }

  CheckSample at(size_t slot) const {
    CheckSample out;
    out.at_ms = wide_ ? (*wide_)[slot] : base_ms_ + offset_ms_[slot];
    out.latency_us = latency_us_[slot];
    out.status_code = status_[slot];
    out.verdict = static_cast<check_verdict>(kind_[slot] >> 6);
    out.failure = static_cast<probe_failure>(kind_[slot] & failure_bits);
    return out;
  }

  /// The times of the checks that stay once `slot` is overwritten, plus
  /// `extra`: their earliest and latest.
  std::pair<int64_t, int64_t> span(size_t skip_slot, int64_t extra) const {
    int64_t lo = extra, hi = extra;
    const size_t first = (next_ + N - size_) % N;
    for (size_t i = 0; i < size_; ++i) {
      const size_t slot = (first + i) % N;
      if (slot == skip_slot)
        continue;
      const int64_t t = at(slot).at_ms;
      lo = std::min(lo, t);
      hi = std::max(hi, t);
    }
    return {lo, hi};
  }

  static bool within_offset(int64_t lo, int64_t hi) {
    return static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) <= max_offset;
  }

  /// `at_ms`, going into `slot`, is no offset from the base (the clock went
  /// back, or 2^32 ms passed since the base): the earliest time kept becomes
  /// the base, or, if the times kept are too far apart for any base, each
  /// keeps its full time until they are close again.
  void rebase(size_t slot, int64_t at_ms) {
    auto [lo, hi] = span(slot, at_ms);
    if (within_offset(lo, hi)) {
      for (size_t s = 0; s < N; ++s)
        if (s != slot && holds(s))
          offset_ms_[s] = static_cast<uint32_t>(base_ms_ + offset_ms_[s] - lo);
      base_ms_ = lo;
      return;
    }
    auto wide = std::make_unique<std::array<int64_t, N>>();
    for (size_t s = 0; s < N; ++s)
      if (holds(s))
        (*wide)[s] = base_ms_ + offset_ms_[s];
    (*wide)[slot] = at_ms;
    wide_ = std::move(wide);
  }

  /// The full times kept may fit offsets again (the far ones dropped out):
  /// back to offsets from the earliest.
  void try_narrow() {
    auto [lo, hi] = span(N, (*wide_)[(next_ + N - 1) % N]);
    if (!within_offset(lo, hi))
      return;
    for (size_t s = 0; s < N; ++s)
      if (holds(s))
        offset_ms_[s] = static_cast<uint32_t>((*wide_)[s] - lo);
    base_ms_ = lo;
    wide_.reset();
  }

  /// Whether `slot` holds a check.
  bool holds(size_t slot) const {
    return size_ == N || (slot + N - next_) % N >= N - size_;
  }

  // Checks by slot, one array per field: no padding between fields.
  int64_t base_ms_ = 0;                          // the offsets are from it
  std::unique_ptr<std::array<int64_t, N>> wide_; // full times, when needed
  std::array<uint32_t, N> offset_ms_{};          // completion - base_ms_
  std::array<uint32_t, N> latency_us_{};
  std::array<uint16_t, N> status_{};
  std::array<uint8_t, N> kind_{}; // verdict << 6 | failure
  uint8_t next_ = 0;              // where the next push goes
  uint8_t size_ = 0;              // checks held, at most N
};

} // namespace orasi
