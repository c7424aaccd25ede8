// Domain types of orasi-discovery: a service, its endpoints and their health.
// Field names and enum spellings match the original module's ServiceInfo JSON,
// so the Rust and C++ implementations can share one backend.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace orasi {

/// Health of a whole service, derived from its endpoints.
enum class ServiceHealthStatus : uint8_t {
  Healthy,
  Degraded,
  Unhealthy,
  Unknown
};

/// Health of one endpoint, from active probes or as declared by the backend.
enum class EndpointHealthStatus : uint8_t { Healthy, Unhealthy, Unknown };

using Metadata = std::map<std::string, std::string>;

/// One network address of a service.
struct ServiceEndpoint {
  std::string url;
  uint32_t weight = 1;
  EndpointHealthStatus health_status = EndpointHealthStatus::Unknown;
  Metadata metadata;
  /// Beyond the spec (last, so that the spec's aggregate order still
  /// works): Healthy but shedding load, its last passing check got a 429.
  bool degraded = false;
};

/// A service as the backend knows it, with health merged in by the registry.
struct ServiceInfo {
  std::string name;
  std::vector<ServiceEndpoint> endpoints;
  ServiceHealthStatus health_status = ServiceHealthStatus::Unknown;
  Metadata metadata;
};

/// Services by id; ordered so that JSON output and diffs are deterministic.
using ServiceMap = std::map<std::string, ServiceInfo>;

bool operator==(const ServiceEndpoint& x, const ServiceEndpoint& y);
inline bool operator!=(const ServiceEndpoint& x, const ServiceEndpoint& y) {
  return !(x == y);
}
bool operator==(const ServiceInfo& x, const ServiceInfo& y);
inline bool operator!=(const ServiceInfo& x, const ServiceInfo& y) {
  return !(x == y);
}

/// "Healthy", "Degraded", "Unhealthy", "Unknown".
const char* to_string(ServiceHealthStatus x);
/// "Healthy", "Unhealthy", "Unknown".
const char* to_string(EndpointHealthStatus x);

/// Parses the exact spellings of to_string; false if `text` is not one.
bool from_string(const std::string& text, ServiceHealthStatus& out);
bool from_string(const std::string& text, EndpointHealthStatus& out);

// CAF's inspect() of these types: messages/service_info_inspect.hpp.

} // namespace orasi
