// Pure rules that turn endpoint health into service health and the routable
// view. Shared by the registry and the tests; no actor code.
#pragma once

#include <vector>

#include "messages/service_info.hpp"

namespace orasi {

/// Service state from its endpoints (ARCHITECTURE.md, "Semantics"):
/// none -> Unhealthy; all Unknown -> Unknown; all Healthy -> Healthy;
/// none Healthy (some known) -> Unhealthy; otherwise Degraded. Beyond the
/// spec: if every Healthy endpoint is `degraded` (answering 429), Degraded.
ServiceHealthStatus
derive_service_health(const std::vector<ServiceEndpoint>& endpoints);

/// True if service `id` in `services` lists an endpoint with `url`.
bool has_endpoint(const ServiceMap& services, const std::string& id,
                  const std::string& url);

/// The routable view: every service with at least one Healthy endpoint,
/// listing only those endpoints.
ServiceMap routable_view(const ServiceMap& services);

} // namespace orasi
