#include "messages/json_codec.hpp"

#include <boost/json.hpp>

#include "messages/errors.hpp"
#include "messages/probe_messages.hpp"

namespace json = boost::json;

namespace orasi {

namespace {

caf::error field_error(const std::string& path, const std::string& what) {
  return make_error(errc::serialization, path + ": " + what);
}

json::object metadata_to_json(const Metadata& metadata) {
  json::object result;
  for (const auto& [key, value] : metadata)
    result[key] = value;
  return result;
}

caf::error check_known_fields(const json::object& obj, const std::string& path,
                              std::initializer_list<std::string_view> known,
                              unknown_fields mode) {
  if (mode == unknown_fields::ignore)
    return caf::none;
  for (const auto& field : obj) {
    auto is_known = [&](std::string_view name) { return name == field.key(); };
    if (std::none_of(known.begin(), known.end(), is_known))
      return field_error(path + "." + std::string{field.key()},
                         "unknown field");
  }
  return caf::none;
}

caf::expected<std::string> decode_string(const json::value& json,
                                         const std::string& path) {
  if (!json.is_string())
    return field_error(path, "expected a string");
  return std::string{json.get_string()};
}

/// A string member that must be present.
caf::expected<std::string> decode_required_string(const json::object& obj,
                                                  std::string_view key,
                                                  const std::string& path) {
  auto field = path + "." + std::string{key};
  auto value = obj.if_contains(key);
  if (value == nullptr)
    return field_error(field, "missing");
  return decode_string(*value, field);
}

/// Decodes member `key` into `out` if present; absent keeps the default.
template <class T, class Decode>
caf::error decode_optional(const json::object& obj, std::string_view key,
                           const std::string& path, T& out, Decode decode) {
  auto value = obj.if_contains(key);
  if (value == nullptr)
    return caf::none;
  auto decoded = decode(*value, path + "." + std::string{key});
  if (!decoded)
    return std::move(decoded.error());
  out = std::move(*decoded);
  return caf::none;
}

caf::expected<Metadata> decode_metadata(const json::value& json,
                                        const std::string& path) {
  if (json.is_null())
    return Metadata{};
  if (!json.is_object())
    return field_error(path, "expected an object of strings");
  Metadata result;
  for (const auto& [key, value] : json.get_object()) {
    auto text = decode_string(value, path + "." + std::string{key});
    if (!text)
      return std::move(text.error());
    result.emplace(std::string{key}, std::move(*text));
  }
  return result;
}

template <class Enum>
caf::expected<Enum> decode_enum(const json::value& json,
                                const std::string& path, const char* allowed) {
  if (!json.is_string())
    return field_error(path, std::string{"expected one of "} + allowed);
  Enum result{};
  if (!from_string(std::string{json.get_string()}, result))
    return field_error(path, "unknown value \"" +
                                 std::string{json.get_string()} +
                                 "\", expected one of " + allowed);
  return result;
}

caf::error check_url(const std::string& url, const std::string& path) {
  if (has_unsafe_url_chars(url))
    return field_error(path, "contains a space, a control or a non-ASCII "
                             "character");
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return field_error(path, "\"" + url + "\" is not an http(s) URL");
  auto scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return field_error(path, "unsupported scheme \"" + scheme +
                                 "\", expected http or https");
  auto host_begin = scheme_end + 3;
  if (host_begin >= url.size() || url[host_begin] == '/' ||
      url[host_begin] == ':')
    return field_error(path, "\"" + url + "\" has no host");
  return caf::none;
}

/// The optional "health_status" and "metadata" members that endpoints and
/// services share; `allowed` lists the enum spellings for error messages.
template <class T>
caf::error decode_status_and_metadata(const json::object& obj,
                                      const std::string& path,
                                      const char* allowed, T& out) {
  using status_type = decltype(out.health_status);
  auto decode_status = [allowed](const json::value& value,
                                 const std::string& field) {
    return decode_enum<status_type>(value, field, allowed);
  };
  if (auto err = decode_optional(obj, "health_status", path, out.health_status,
                                 decode_status))
    return err;
  return decode_optional(obj, "metadata", path, out.metadata, decode_metadata);
}

caf::expected<ServiceEndpoint> decode_endpoint(const json::value& json,
                                               const std::string& path,
                                               unknown_fields mode) {
  if (!json.is_object())
    return field_error(path, "expected an object");
  const auto& obj = json.get_object();
  if (auto err = check_known_fields(
          obj, path, {"url", "weight", "health_status", "degraded", "metadata"},
          mode))
    return err;
  ServiceEndpoint result;
  auto url = decode_required_string(obj, "url", path);
  if (!url)
    return std::move(url.error());
  if (auto err = check_url(*url, path + ".url"))
    return err;
  result.url = std::move(*url);
  if (auto weight = obj.if_contains("weight")) {
    if (!weight->is_int64() && !weight->is_uint64())
      return field_error(path + ".weight", "expected an unsigned integer");
    // Large unsigned values do not fit int64: compare without converting.
    constexpr uint64_t max_weight = std::numeric_limits<uint32_t>::max();
    auto in_range =
        weight->is_uint64()
            ? weight->get_uint64() <= max_weight
            : weight->get_int64() >= 0 &&
                  static_cast<uint64_t>(weight->get_int64()) <= max_weight;
    if (!in_range)
      return field_error(path + ".weight", "out of range 0..4294967295");
    result.weight = static_cast<uint32_t>(weight->to_number<uint64_t>());
  }
  if (auto degraded = obj.if_contains("degraded")) {
    if (!degraded->is_bool())
      return field_error(path + ".degraded", "expected true or false");
    result.degraded = degraded->get_bool();
  }
  if (auto err = decode_status_and_metadata(
          obj, path, "Healthy, Unhealthy, Unknown", result))
    return err;
  return result;
}

caf::error decode_endpoints(const json::value& json, const std::string& path,
                            unknown_fields mode,
                            std::vector<ServiceEndpoint>& out) {
  if (!json.is_array())
    return field_error(path, "expected an array");
  const auto& array = json.get_array();
  for (size_t index = 0; index < array.size(); ++index) {
    auto endpoint = decode_endpoint(
        array[index], path + "[" + std::to_string(index) + "]", mode);
    if (!endpoint)
      return std::move(endpoint.error());
    out.push_back(std::move(*endpoint));
  }
  return caf::none;
}

} // namespace

json::value to_json(const ServiceEndpoint& x) {
  json::object result{{"url", x.url},
                      {"weight", x.weight},
                      {"health_status", to_string(x.health_status)},
                      {"metadata", metadata_to_json(x.metadata)}};
  // Only when set, so that values written to a shared backend stay in the
  // original module's format.
  if (x.degraded)
    result["degraded"] = true;
  return result;
}

json::value to_json(const ServiceInfo& x) {
  json::array endpoints;
  for (const auto& endpoint : x.endpoints)
    endpoints.push_back(to_json(endpoint));
  return json::object{{"name", x.name},
                      {"endpoints", std::move(endpoints)},
                      {"health_status", to_string(x.health_status)},
                      {"metadata", metadata_to_json(x.metadata)}};
}

json::value to_json(const ServiceMap& x) {
  json::object result;
  for (const auto& [id, service] : x)
    result[id] = to_json(service);
  return result;
}

json::value to_json(const ServiceTable& x) {
  json::object result;
  result.reserve(x.size());
  for (const auto& [id, service] : x)
    result[id] = to_json(service);
  return result;
}

std::string encode(const ServiceInfo& x) {
  return json::serialize(to_json(x));
}

std::string encode(const ServiceMap& x) {
  return json::serialize(to_json(x));
}

caf::expected<ServiceInfo> decode_service(const json::value& json,
                                          const std::string& path,
                                          unknown_fields mode) {
  if (!json.is_object())
    return field_error(path, "expected an object");
  const auto& obj = json.get_object();
  if (auto err = check_known_fields(
          obj, path, {"name", "endpoints", "health_status", "metadata"}, mode))
    return err;
  ServiceInfo result;
  auto name = decode_required_string(obj, "name", path);
  if (!name)
    return std::move(name.error());
  if (name->empty())
    return field_error(path + ".name", "must not be empty");
  result.name = std::move(*name);
  if (auto endpoints = obj.if_contains("endpoints"))
    if (auto err = decode_endpoints(*endpoints, path + ".endpoints", mode,
                                    result.endpoints))
      return err;
  if (auto err = decode_status_and_metadata(
          obj, path, "Healthy, Degraded, Unhealthy, Unknown", result))
    return err;
  return result;
}

caf::expected<ServiceInfo> decode_service(std::string_view text,
                                          const std::string& path,
                                          unknown_fields mode) {
  json::error_code ec;
  auto value = json::parse(json::string_view{text.data(), text.size()}, ec);
  if (ec)
    return field_error(path, "malformed JSON: " + ec.message());
  return decode_service(value, path, mode);
}

caf::expected<ServiceMap> decode_services(const json::value& json,
                                          const std::string& path,
                                          unknown_fields mode) {
  if (!json.is_object())
    return field_error(path, "expected an object of services by id");
  ServiceMap result;
  for (const auto& [key, value] : json.get_object()) {
    std::string id{key};
    if (!is_valid_service_id(id))
      return field_error(path + "." + id,
                         "invalid service id (empty, too long, or contains "
                         "'/' or control characters)");
    auto service = decode_service(value, path + "." + id, mode);
    if (!service)
      return std::move(service.error());
    result.emplace(std::move(id), std::move(*service));
  }
  return result;
}

caf::error validate_service(const std::string& id, const ServiceInfo& info,
                            const std::string& path) {
  if (!is_valid_service_id(id))
    return field_error(path, "invalid service id \"" + id +
                                 "\" (empty, too long, or contains '/' or "
                                 "control characters)");
  if (info.name.empty())
    return field_error(path + ".name", "must not be empty");
  for (size_t index = 0; index < info.endpoints.size(); ++index)
    if (auto err =
            check_url(info.endpoints[index].url,
                      path + ".endpoints[" + std::to_string(index) + "].url"))
      return err;
  return caf::none;
}

bool is_valid_service_id(std::string_view id) {
  // "." and ".." would be path steps in URLs, not ids.
  if (id.empty() || id.size() > 256 || id == "." || id == "..")
    return false;
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f || c == '/')
      return false;
  return true;
}

} // namespace orasi
