// Consul's HTTP API: the catalog and health answers orasi reads, the agent
// registration it writes, and the mapping between Consul instances and
// orasi's ServiceInfo. Pure functions, no I/O.
//
// Mapping. An orasi service id is a Consul service name; each endpoint is
// one instance (ID "<id>" for a single endpoint, "<id>-<k>" otherwise) whose
// address, port and scheme come from the endpoint URL. Instance Meta keeps
// what Consul has no field for, so that a registration reads back as it was
// written: "orasi-url" (the URL, if it has a path or is not plain
// scheme://host:port), "orasi-name" (ServiceInfo.name if it differs from
// the id), "orasi-svc-<key>" (service metadata); other Meta keys are the
// endpoint's metadata. An instance registered by someone else becomes
// <Meta "scheme" or http>://<Service.Address or Node.Address>:<Port>.
// Health: an instance's worst check (node checks included) decides:
// passing -> Healthy, warning -> Healthy and degraded, critical ->
// Unhealthy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "messages/service_info.hpp"

namespace orasi::backends::consul {

/// {"name": ["tag", ...]} of GET /v1/catalog/services.
using catalog = std::map<std::string, std::vector<std::string>>;

/// One entry of GET /v1/health/service/<name>.
struct instance {
  std::string id;
  std::string service;
  std::string address; // Service.Address, or Node.Address when empty
  uint16_t port = 0;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  uint32_t weight = 1;            // Weights.Passing
  std::string status = "passing"; // the worst of its checks
};

caf::expected<catalog> decode_catalog(std::string_view body);

/// Entries that do not decode are skipped and counted in `skipped`; a body
/// that is not a JSON array is an error.
caf::expected<std::vector<instance>> decode_health(std::string_view body,
                                                   size_t& skipped);

/// The ServiceInfo for service `name` made of `instances` (in ID order).
ServiceInfo to_service_info(const std::string& name,
                            std::vector<instance> instances);

/// The health check Consul should run for a registered endpoint.
struct check_settings {
  std::string path = "/health"; // appended to the endpoint URL
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds timeout{5000};
  /// Consul removes an instance critical for this long (0: never).
  std::chrono::milliseconds deregister_critical_after{0};
};

/// One PUT /v1/agent/service/register body.
struct registration {
  std::string id;
  std::string body; // JSON
};

/// The registrations (one per endpoint) for `info` under `id`. Fails if an
/// endpoint URL has no host or port Consul can take.
caf::expected<std::vector<registration>>
registrations_for(const std::string& id, const ServiceInfo& info,
                  const check_settings& check);

/// Consul's duration syntax ("10s", "1500ms", "1m30s" is not needed).
std::string consul_duration(std::chrono::milliseconds value);

/// Whether `name` is selected by `prefix`: a name starting with it, or a
/// service tagged with it. An empty prefix selects everything but Consul's
/// own "consul" service.
bool selected(const std::string& name, const std::vector<std::string>& tags,
              const std::string& prefix);

} // namespace orasi::backends::consul
