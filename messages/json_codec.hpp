// Boost.JSON codecs for the domain types, in the original module's format:
// {"name": "...", "endpoints": [{"url", "weight", "health_status",
//  "metadata"}], "health_status": "Healthy", "metadata": {...}}.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>
#include <caf/expected.hpp>

#include "messages/service_info.hpp"
#include "messages/service_table.hpp"

namespace orasi {

/// How a decoder treats fields it does not know.
enum class unknown_fields : uint8_t {
  /// Ignore them: backend data may come from a newer writer.
  ignore,
  /// Reject them: a typo in a hand-written config must not pass silently.
  reject,
};

boost::json::value to_json(const ServiceEndpoint& x);
boost::json::value to_json(const ServiceInfo& x);
/// {"<id>": ServiceInfo, ...}
boost::json::value to_json(const ServiceMap& x);
boost::json::value to_json(const ServiceTable& x);

std::string encode(const ServiceInfo& x);
std::string encode(const ServiceMap& x);

/// Decodes one ServiceInfo. `path` names the value in error messages (e.g.
/// "service_discovery.services.api"); errors are errc::serialization with a
/// message like "<path>.endpoints[0].weight: expected an unsigned integer".
/// Missing fields take their defaults except `name` and endpoint `url`.
caf::expected<ServiceInfo>
decode_service(const boost::json::value& json, const std::string& path,
               unknown_fields mode = unknown_fields::ignore);

/// Parses `text` as JSON, then decodes it as above.
caf::expected<ServiceInfo>
decode_service(std::string_view text, const std::string& path = "service",
               unknown_fields mode = unknown_fields::ignore);

/// Decodes {"<id>": ServiceInfo, ...}; fails on the first bad entry.
caf::expected<ServiceMap>
decode_services(const boost::json::value& json, const std::string& path,
                unknown_fields mode = unknown_fields::ignore);

/// Checks a ServiceInfo built in code the way decode_service checks JSON:
/// valid id, non-empty name, http(s) endpoint URLs with a host. Errors are
/// errc::serialization naming e.g. "<path>.endpoints[1].url".
caf::error validate_service(const std::string& id, const ServiceInfo& info,
                            const std::string& path);

/// Checks a service id: non-empty, at most 256 bytes, no '/' or control
/// characters (ids become etcd keys and URL path segments).
bool is_valid_service_id(std::string_view id);

} // namespace orasi
