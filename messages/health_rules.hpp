// Pure rules that turn endpoint health into service health and the routable
// view. Shared by the registry and the tests; no actor code.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "messages/health_types.hpp"
#include "messages/service_info.hpp"
#include "messages/service_table.hpp"

namespace orasi {

/// Service state from its endpoints (README, "Health checking"):
/// none -> Unhealthy; all Unknown -> Unknown; all Healthy -> Healthy;
/// none Healthy (some known) -> Unhealthy; otherwise Degraded. Beyond the
/// spec: if every Healthy endpoint is `degraded` (answering 429), Degraded.
ServiceHealthStatus
derive_service_health(const std::vector<ServiceEndpoint>& endpoints);

/// True if service `id` in `services` lists an endpoint with `url`.
bool has_endpoint(const ServiceTable& services, const std::string& id,
                  const std::string& url);

/// The routable form of one service: only its Healthy endpoints, or
/// nothing if it has none.
std::optional<ServiceInfo> routable_service(const ServiceInfo& service);

/// Whether the routable form of `service` is `service` itself (every
/// endpoint Healthy), so a view may share it instead of copying.
bool fully_routable(const ServiceInfo& service);

/// The routable view: every service with at least one Healthy endpoint,
/// listing only those endpoints.
ServiceMap routable_view(const ServiceMap& services);

/// Whether an answered probe attempt passes: an expected status, or 429
/// (passes, degraded). Sets `degraded` accordingly.
bool status_passes(uint16_t status, const std::vector<StatusRange>& expected,
                   bool& degraded);

} // namespace orasi
