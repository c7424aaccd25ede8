// What probe_metrics keeps of one probed endpoint: its last result and its
// ring of recent checks. The last result is rebuilt from the newest check
// plus the little the check lacks, so that the endpoint's memory is mostly
// the compact ring.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/compact_check_ring.hpp"
#include "messages/health_types.hpp"

namespace orasi {

/// One completed check as the ring keeps it (the dashboard's view).
CheckSample sample_of(const ProbeResult& result);

/// The last result and the recent checks of one endpoint.
class endpoint_probe_record {
public:
  /// Keeps `result` as the last one and adds its check to the ring.
  void record(ProbeResult result);
  /// The last result recorded, exactly as it was; something must have been.
  ProbeResult last() const;
  /// The recent checks, oldest first.
  std::vector<CheckSample> recent() const { return recent_.to_vector(); }

private:
  /// How the last result's reason is rebuilt; the engine's reasons are
  /// mostly one of the first three.
  enum class reason_kind : uint8_t {
    passing,      // "passing"
    status,       // "status <status_code>"
    failure_name, // to_string(failure)
    kept,         // extras_->reason
  };
  /// What the newest check cannot rebuild; allocated only when needed.
  struct extras {
    std::string reason;
    std::chrono::microseconds latency{0};
  };

  compact_check_ring<recent_checks_kept> recent_;
  std::unique_ptr<extras> extras_;
  /// The last result's time below the millisecond the newest check holds,
  /// in system_clock ticks (ProbeResult::at is exact to the tick).
  int32_t at_sub_ms_ = 0;
  reason_kind reason_ = reason_kind::passing;
  bool latency_kept_ = false;    // in extras_: beyond the check's 32 bits
  bool failed_degraded_ = false; // degraded but not passed (no verdict says it)
};

} // namespace orasi
