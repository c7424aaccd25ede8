// Plain health-check types shared by the public API and the actors; no CAF
// headers, so that the facade's users do not compile them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "messages/service_info.hpp"

namespace orasi {

/// Why an attempt produced no usable response, or `none` if it did.
enum class probe_failure : uint8_t {
  none,           // a complete response arrived; see attempt_result::status
  timeout,        // the attempt's deadline passed (connect, send or receive)
  refused,        // connection refused
  status,         // a response whose status is not expected (probe actor)
  body_too_large, // the body exceeded the engine's cap; connection dropped
  protocol_error, // not HTTP/1.x, bad status line, closed mid-response
  connection,     // reset, unreachable or another socket error
  resolve,        // the host name did not resolve
  tls,            // TLS handshake failed
  invalid_url,    // the endpoint URL cannot be probed
  local,          // the prober itself could not try (out of file
                  // descriptors, ...): says nothing about the endpoint
};

/// "timeout", "refused", "status", "body_too_large", "protocol_error", ...
const char* to_string(probe_failure x);

/// An inclusive range of HTTP statuses that pass a check, e.g. 200-299.
struct StatusRange {
  uint16_t first = 200;
  uint16_t last = 299;

  bool contains(uint16_t status) const {
    return status >= first && status <= last;
  }
  bool operator==(const StatusRange& other) const {
    return first == other.first && last == other.last;
  }
};

/// A consistent-enough copy of the counters (each counter is exact; they
/// are read one after the other).
struct ProbeMetrics {
  uint64_t attempts_sent = 0;   // HTTP attempts started
  uint64_t attempts_passed = 0; // attempts that passed
  /// Failed attempts by reason: "timeout", "refused", "status",
  /// "body_too_large", "protocol_error", "connection", "resolve", "tls",
  /// "invalid_url", "local". Every reason is present, zeros included.
  std::map<std::string, uint64_t> attempts_failed;
  uint64_t checks_passed = 0;   // checks (1 + retries attempts) that passed
  uint64_t checks_failed = 0;   // checks whose every attempt failed
  uint64_t checks_degraded = 0; // passing checks answered with 429
  uint64_t transitions = 0;     // endpoint state changes by the thresholds
  uint64_t active_probes = 0;   // endpoints being probed now
  /// Check latency (first attempt start to outcome): cumulative counts per
  /// upper bound in seconds, the last bound being +Inf (Prometheus style).
  std::vector<std::pair<double, uint64_t>> latency_buckets;
  double latency_sum_seconds = 0;
  uint64_t latency_count = 0;
};

/// The last completed check of one endpoint.
struct ProbeResult {
  bool passed = false;
  uint16_t status_code = 0; // 0: no HTTP answer
  std::chrono::microseconds latency{0};
  std::string reason; // why it failed, or "passing"
  bool degraded = false;
  std::chrono::system_clock::time_point at{};
  probe_failure failure = probe_failure::none; // none when it passed
};

/// Last checks by service id, then endpoint URL.
using ProbeResults = std::map<std::string, std::map<std::string, ProbeResult>>;

/// How many completed checks the runtime keeps per probed endpoint.
constexpr size_t recent_checks_kept = 32;
/// How many endpoint state transitions the runtime keeps (all endpoints).
constexpr size_t transitions_kept = 512;

/// What one check said.
enum class check_verdict : uint8_t {
  passed,
  degraded, // passed with 429
  failed,
};

/// "passed", "degraded", "failed".
const char* to_string(check_verdict x);

/// One completed check as the endpoint's ring of recent checks keeps it:
/// 16 bytes, since every probed endpoint holds recent_checks_kept of them.
struct CheckSample {
  int64_t at_ms = 0;        // completion, system_clock ms since the epoch
  uint32_t latency_us = 0;  // the deciding attempt's (saturates at ~71 min)
  uint16_t status_code = 0; // 0: no HTTP answer
  check_verdict verdict = check_verdict::failed;
  probe_failure failure = probe_failure::none; // why it failed
};

/// The last result of one endpoint and its recent checks, oldest first.
struct EndpointProbeHistory {
  ProbeResult last;
  std::vector<CheckSample> recent; // at most recent_checks_kept
};

/// Probe histories by service id, then endpoint URL.
using ProbeHistories =
    std::map<std::string, std::map<std::string, EndpointProbeHistory>>;

/// One change of an endpoint's state decided by the health checks.
struct EndpointTransition {
  uint64_t sequence = 0; // 1 for the first transition, then +1 each
  std::chrono::system_clock::time_point at{};
  std::string service_id;
  std::string endpoint_url;
  EndpointHealthStatus from = EndpointHealthStatus::Unknown;
  EndpointHealthStatus to = EndpointHealthStatus::Unknown;
  std::string reason; // the deciding check's reason ("passing", "status 503")
};

} // namespace orasi
