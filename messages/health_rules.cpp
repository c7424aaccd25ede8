#include "messages/health_rules.hpp"

#include <algorithm>

namespace orasi {

ServiceHealthStatus
derive_service_health(const std::vector<ServiceEndpoint>& endpoints) {
  if (endpoints.empty())
    return ServiceHealthStatus::Unhealthy;
  size_t healthy = 0;
  size_t healthy_but_degraded = 0;
  size_t unknown = 0;
  for (const auto& endpoint : endpoints) {
    if (endpoint.health_status == EndpointHealthStatus::Healthy) {
      ++healthy;
      if (endpoint.degraded)
        ++healthy_but_degraded;
    } else if (endpoint.health_status == EndpointHealthStatus::Unknown) {
      ++unknown;
    }
  }
  if (unknown == endpoints.size())
    return ServiceHealthStatus::Unknown;
  if (healthy == 0)
    return ServiceHealthStatus::Unhealthy;
  if (healthy == healthy_but_degraded)
    return ServiceHealthStatus::Degraded; // every passing endpoint sheds load
  if (healthy == endpoints.size())
    return ServiceHealthStatus::Healthy;
  return ServiceHealthStatus::Degraded;
}

bool has_endpoint(const ServiceMap& services, const std::string& id,
                  const std::string& url) {
  auto service = services.find(id);
  if (service == services.end())
    return false;
  const auto& endpoints = service->second.endpoints;
  return std::any_of(endpoints.begin(), endpoints.end(),
                     [&](const ServiceEndpoint& x) { return x.url == url; });
}

ServiceMap routable_view(const ServiceMap& services) {
  ServiceMap result;
  for (const auto& [id, service] : services) {
    ServiceInfo routable;
    for (const auto& endpoint : service.endpoints)
      if (endpoint.health_status == EndpointHealthStatus::Healthy)
        routable.endpoints.push_back(endpoint);
    if (routable.endpoints.empty())
      continue;
    routable.name = service.name;
    routable.health_status = service.health_status;
    routable.metadata = service.metadata;
    result.emplace(id, std::move(routable));
  }
  return result;
}

} // namespace orasi
