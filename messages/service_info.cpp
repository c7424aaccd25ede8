#include "messages/service_info.hpp"

namespace orasi {

bool operator==(const ServiceEndpoint& x, const ServiceEndpoint& y) {
  return x.url == y.url && x.weight == y.weight &&
         x.health_status == y.health_status && x.degraded == y.degraded &&
         x.metadata == y.metadata;
}

bool operator==(const ServiceInfo& x, const ServiceInfo& y) {
  return x.name == y.name && x.endpoints == y.endpoints &&
         x.health_status == y.health_status && x.metadata == y.metadata;
}

const char* to_string(ServiceHealthStatus x) {
  switch (x) {
  case ServiceHealthStatus::Healthy:
    return "Healthy";
  case ServiceHealthStatus::Degraded:
    return "Degraded";
  case ServiceHealthStatus::Unhealthy:
    return "Unhealthy";
  case ServiceHealthStatus::Unknown:
    break;
  }
  return "Unknown";
}

const char* to_string(EndpointHealthStatus x) {
  switch (x) {
  case EndpointHealthStatus::Healthy:
    return "Healthy";
  case EndpointHealthStatus::Unhealthy:
    return "Unhealthy";
  case EndpointHealthStatus::Unknown:
    break;
  }
  return "Unknown";
}

namespace {

template <class Enum>
bool parse_enum(const std::string& text, std::initializer_list<Enum> values,
                Enum& out) {
  for (auto value : values) {
    if (text == to_string(value)) {
      out = value;
      return true;
    }
  }
  return false;
}

} // namespace

bool from_string(const std::string& text, ServiceHealthStatus& out) {
  using S = ServiceHealthStatus;
  return parse_enum(text, {S::Healthy, S::Degraded, S::Unhealthy, S::Unknown},
                    out);
}

bool from_string(const std::string& text, EndpointHealthStatus& out) {
  using E = EndpointHealthStatus;
  return parse_enum(text, {E::Healthy, E::Unhealthy, E::Unknown}, out);
}

} // namespace orasi
