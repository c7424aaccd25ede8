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

bool has_endpoint(const ServiceTable& services, const std::string& id,
                  const std::string& url) {
  auto service = services.find(id);
  if (service == services.end())
    return false;
  const auto& endpoints = service->second.endpoints;
  return std::any_of(endpoints.begin(), endpoints.end(),
                     [&](const ServiceEndpoint& x) { return x.url == url; });
}

std::optional<ServiceInfo> routable_service(const ServiceInfo& service) {
  ServiceInfo routable;
  for (const auto& endpoint : service.endpoints)
    if (endpoint.health_status == EndpointHealthStatus::Healthy)
      routable.endpoints.push_back(endpoint);
  if (routable.endpoints.empty())
    return std::nullopt;
  routable.name = service.name;
  routable.health_status = service.health_status;
  routable.metadata = service.metadata;
  return routable;
}

bool fully_routable(const ServiceInfo& service) {
  return !service.endpoints.empty() &&
         std::all_of(service.endpoints.begin(), service.endpoints.end(),
                     [](const ServiceEndpoint& x) {
                       return x.health_status == EndpointHealthStatus::Healthy;
                     });
}

ServiceMap routable_view(const ServiceMap& services) {
  ServiceMap result;
  for (const auto& [id, service] : services)
    if (auto routable = routable_service(service))
      result.emplace_hint(result.end(), id, std::move(*routable));
  return result;
}

bool status_passes(uint16_t status, const std::vector<StatusRange>& expected,
                   bool& degraded) {
  degraded = false;
  if (std::any_of(
          expected.begin(), expected.end(),
          [&](const StatusRange& range) { return range.contains(status); }))
    return true;
  // 429 Too Many Requests: the endpoint is alive and answering, only
  // shedding load. Taking it out would push its share onto the others.
  if (status == 429) {
    degraded = true;
    return true;
  }
  return false;
}

} // namespace orasi
