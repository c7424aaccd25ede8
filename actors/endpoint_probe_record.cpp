#include "actors/endpoint_probe_record.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <ratio>

namespace orasi {

namespace {

using clock_ticks = std::chrono::system_clock::duration;

static_assert(std::ratio_less_equal<
                  std::ratio_divide<std::milli, clock_ticks::period>,
                  std::ratio<std::numeric_limits<int32_t>::max()>>::value,
              "a millisecond of system_clock ticks fits in 32 bits");

int64_t epoch_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             at.time_since_epoch())
      .count();
}

std::string status_reason(uint16_t status) {
  return "status " + std::to_string(status);
}

} // namespace

CheckSample sample_of(const ProbeResult& result) {
  CheckSample sample;
  sample.at_ms = epoch_ms(result.at);
  auto us = std::max<int64_t>(result.latency.count(), 0);
  sample.latency_us = static_cast<uint32_t>(
      std::min<int64_t>(us, std::numeric_limits<uint32_t>::max()));
  sample.status_code = result.status_code;
  sample.verdict = !result.passed    ? check_verdict::failed
                   : result.degraded ? check_verdict::degraded
                                     : check_verdict::passed;
  sample.failure = result.failure;
  return sample;
}

void endpoint_probe_record::record(ProbeResult result) {
  auto sample = sample_of(result);
  // Only what the check does not say goes into extras.
  bool latency_kept = result.latency.count() != sample.latency_us;
  reason_kind reason = reason_kind::kept;
  if (result.reason == "passing")
    reason = reason_kind::passing;
  else if (result.reason == status_reason(result.status_code))
    reason = reason_kind::status;
  else if (result.reason == to_string(result.failure))
    reason = reason_kind::failure_name;
  bool needs_extras = latency_kept || reason == reason_kind::kept;
  // What may throw comes first: a failed record leaves the last one whole.
  if (needs_extras && !extras_)
    extras_ = std::make_unique<extras>();
  recent_.push(sample);

  if (needs_extras) {
    extras_->latency = result.latency;
    extras_->reason =
        reason == reason_kind::kept ? std::move(result.reason) : std::string{};
  } else {
    extras_.reset();
  }
  reason_ = reason;
  latency_kept_ = latency_kept;
  failed_degraded_ = !result.passed && result.degraded;
  auto since_epoch = result.at.time_since_epoch();
  at_sub_ms_ = static_cast<int32_t>(
      (since_epoch -
       std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch))
          .count());
}

ProbeResult endpoint_probe_record::last() const {
  auto sample = recent_.newest();
  ProbeResult out;
  out.passed = sample.verdict != check_verdict::failed;
  out.status_code = sample.status_code;
  out.latency = latency_kept_ ? extras_->latency
                              : std::chrono::microseconds{sample.latency_us};
  switch (reason_) {
  case reason_kind::passing:
    out.reason = "passing";
    break;
  case reason_kind::status:
    out.reason = status_reason(sample.status_code);
    break;
  case reason_kind::failure_name:
    out.reason = to_string(sample.failure);
    break;
  case reason_kind::kept:
    out.reason = extras_->reason;
    break;
  }
  out.degraded = sample.verdict == check_verdict::degraded || failed_degraded_;
  out.at = std::chrono::system_clock::time_point{
      std::chrono::duration_cast<clock_ticks>(
          std::chrono::milliseconds{sample.at_ms}) +
      clock_ticks{at_sub_ms_}};
  out.failure = sample.failure;
  return out;
}

} // namespace orasi
