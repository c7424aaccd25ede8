#include "backends/consul_wire.hpp"

#include <algorithm>
#include <cctype>

#include <boost/json.hpp>

#include "messages/errors.hpp"
#include "messages/health_rules.hpp"
#include "messages/probe_messages.hpp"

namespace json = boost::json;

namespace orasi::backends::consul {

namespace {

constexpr std::string_view meta_url = "orasi-url";
constexpr std::string_view meta_name = "orasi-name";
constexpr std::string_view meta_service_prefix = "orasi-svc-";

caf::error bad(const std::string& path, const std::string& what) {
  return make_error(errc::serialization,
                    "consul response " + path + ": " + what);
}

caf::expected<json::value> parse(std::string_view body,
                                 const std::string& what) {
  json::error_code ec;
  auto value = json::parse(body, ec);
  if (ec)
    return bad(what, "not JSON (" + ec.message() + ")");
  return value;
}

std::string text_of(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string())
    return {};
  return std::string{it->value().as_string()};
}

const json::object* object_of(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_object())
    return nullptr;
  return &it->value().as_object();
}

std::vector<std::string> strings_of(const json::object& obj,
                                    std::string_view key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_array())
    return out;
  for (const auto& item : it->value().as_array())
    if (item.is_string())
      out.emplace_back(item.as_string());
  return out;
}

/// passing < warning < critical; anything else counts as critical (e.g.
/// maintenance), the safe side.
int severity(const std::string& status) {
  if (status == "passing")
    return 0;
  if (status == "warning")
    return 1;
  return 2;
}

caf::expected<instance> decode_entry(const json::value& entry,
                                     const std::string& path) {
  if (!entry.is_object())
    return bad(path, "expected an object");
  const auto* node = object_of(entry.as_object(), "Node");
  const auto* service = object_of(entry.as_object(), "Service");
  if (service == nullptr)
    return bad(path + ".Service", "missing");
  instance out;
  out.id = text_of(*service, "ID");
  out.service = text_of(*service, "Service");
  if (out.id.empty() || out.service.empty())
    return bad(path + ".Service", "missing ID or Service");
  out.address = text_of(*service, "Address");
  if (out.address.empty() && node != nullptr)
    out.address = text_of(*node, "Address");
  // Consul omits a zero port: the scheme's default applies.
  json::error_code ec;
  if (auto port = service->find("Port"); port != service->end()) {
    if (!port->value().is_number())
      return bad(path + ".Service.Port", "expected a number");
    auto port_number = port->value().to_number<int64_t>(ec);
    if (ec || port_number < 0 || port_number > 65535)
      return bad(path + ".Service.Port", "out of range");
    out.port = static_cast<uint16_t>(port_number);
  }
  if (out.address.empty())
    return bad(path + ".Service.Address", "no address (nor Node.Address)");
  out.tags = strings_of(*service, "Tags");
  if (const auto* meta = object_of(*service, "Meta"))
    for (const auto& [key, value] : *meta)
      if (value.is_string())
        out.meta.emplace(std::string{key}, std::string{value.as_string()});
  if (const auto* weights = object_of(*service, "Weights")) {
    auto passing = weights->find("Passing");
    if (passing != weights->end() && passing->value().is_number()) {
      auto weight = passing->value().to_number<int64_t>(ec);
      if (!ec && weight > 0)
        out.weight = static_cast<uint32_t>(weight);
    }
  }
  auto checks = entry.as_object().find("Checks");
  if (checks != entry.as_object().end() && checks->value().is_array())
    for (const auto& check : checks->value().as_array()) {
      if (!check.is_object())
        continue;
      auto status = text_of(check.as_object(), "Status");
      if (severity(status) > severity(out.status))
        out.status = status;
    }
  return out;
}

EndpointHealthStatus health_of(const std::string& status) {
  switch (severity(status)) {
  case 0:
  case 1:
    return EndpointHealthStatus::Healthy;
  default:
    return EndpointHealthStatus::Unhealthy;
  }
}

ServiceEndpoint to_endpoint(const instance& in) {
  ServiceEndpoint endpoint;
  if (auto url = in.meta.find(std::string{meta_url}); url != in.meta.end()) {
    endpoint.url = url->second;
  } else {
    auto scheme = in.meta.count("scheme") ? in.meta.at("scheme") : "http";
    auto host = in.address.find(':') != std::string::npos
                    ? "[" + in.address + "]"
                    : in.address;
    endpoint.url = scheme + "://" + host;
    if (in.port != 0)
      endpoint.url += ":" + std::to_string(in.port);
  }
  endpoint.weight = in.weight;
  endpoint.health_status = health_of(in.status);
  endpoint.degraded = in.status == "warning";
  for (const auto& [key, value] : in.meta)
    if (key != meta_url && key != meta_name && key != "scheme" &&
        key.rfind(meta_service_prefix, 0) != 0)
      endpoint.metadata.emplace(key, value);
  return endpoint;
}

void put_string(json::object& obj, std::string_view key,
                const std::string& value) {
  obj[key] = json::string{value};
}

/// Consul's rules for service Meta (it answers 400 otherwise): keys of
/// [A-Za-z0-9_-], at most 128 characters, not starting with "consul-";
/// values at most 512 characters; at most 64 pairs.
std::string meta_problem(const json::object& meta) {
  if (meta.size() > 64)
    return "more than 64 metadata entries (Consul's limit)";
  for (const auto& [key, value] : meta) {
    std::string_view k{key.data(), key.size()};
    auto valid = !k.empty() && k.size() <= 128 && k.rfind("consul-", 0) != 0 &&
                 std::all_of(k.begin(), k.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) ||
                          c == '_' || c == '-';
                 });
    if (!valid)
      return "metadata key \"" + std::string{k} +
             "\" is not allowed by Consul (letters, digits, '_' and '-', at "
             "most 128, not starting with \"consul-\")";
    if (value.as_string().size() > 512)
      return "metadata value of \"" + std::string{k} +
             "\" is longer than Consul's 512 characters";
  }
  return {};
}

} // namespace

caf::expected<catalog> decode_catalog(std::string_view body) {
  auto value = parse(body, "catalog");
  if (!value)
    return std::move(value.error());
  if (!value->is_object())
    return bad("catalog", "expected an object");
  catalog out;
  for (const auto& [name, tags] : value->as_object()) {
    std::vector<std::string> list;
    if (tags.is_array())
      for (const auto& tag : tags.as_array())
        if (tag.is_string())
          list.emplace_back(tag.as_string());
    out.emplace(std::string{name}, std::move(list));
  }
  return out;
}

caf::expected<std::vector<instance>> decode_health(std::string_view body,
                                                   size_t& skipped) {
  auto value = parse(body, "health");
  if (!value)
    return std::move(value.error());
  if (!value->is_array())
    return bad("health", "expected an array");
  std::vector<instance> out;
  const auto& entries = value->as_array();
  for (size_t i = 0; i < entries.size(); ++i) {
    auto entry = decode_entry(entries[i], "health[" + std::to_string(i) + "]");
    if (entry)
      out.push_back(std::move(*entry));
    else
      ++skipped;
  }
  return out;
}

ServiceInfo to_service_info(const std::string& name,
                            std::vector<instance> instances) {
  std::sort(instances.begin(), instances.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  ServiceInfo info;
  info.name = name;
  for (const auto& in : instances) {
    if (auto given = in.meta.find(std::string{meta_name});
        given != in.meta.end())
      info.name = given->second;
    for (const auto& [key, value] : in.meta)
      if (key.rfind(meta_service_prefix, 0) == 0)
        info.metadata.emplace(key.substr(meta_service_prefix.size()), value);
    info.endpoints.push_back(to_endpoint(in));
  }
  info.health_status = derive_service_health(info.endpoints);
  return info;
}

std::string consul_duration(std::chrono::milliseconds value) {
  if (value.count() % 1000 == 0)
    return std::to_string(value.count() / 1000) + "s";
  return std::to_string(value.count()) + "ms";
}

caf::expected<std::vector<registration>>
registrations_for(const std::string& id, const ServiceInfo& info,
                  const check_settings& check) {
  std::vector<registration> out;
  const auto& endpoints = info.endpoints;
  for (size_t k = 0; k < endpoints.size(); ++k) {
    const auto& endpoint = endpoints[k];
    std::string error;
    auto target = make_probe_target(endpoint.url, "/", error);
    if (!target)
      return make_error(errc::serialization, "service " + id + ".endpoints[" +
                                                 std::to_string(k) +
                                                 "].url: " + error);
    json::object meta;
    for (const auto& [key, value] : endpoint.metadata) {
      // These carry the mapping itself: user values would corrupt it.
      if (key == "scheme" || key == meta_url || key == meta_name ||
          key.rfind(meta_service_prefix, 0) == 0)
        return make_error(errc::serialization,
                          "service " + id + ".endpoints[" + std::to_string(k) +
                              "].metadata." + key +
                              ": reserved for the Consul mapping");
      put_string(meta, key, value);
    }
    for (const auto& [key, value] : info.metadata)
      put_string(meta, std::string{meta_service_prefix} + key, value);
    if (info.name != id)
      put_string(meta, meta_name, info.name);
    auto scheme = target->tls ? "https" : "http";
    auto host = target->host.find(':') != std::string::npos
                    ? "[" + target->host + "]"
                    : target->host;
    auto plain =
        std::string{scheme} + "://" + host + ":" + std::to_string(target->port);
    if (endpoint.url != plain)
      put_string(meta, meta_url, endpoint.url);
    else if (target->tls)
      put_string(meta, "scheme", "https");
    if (auto problem = meta_problem(meta); !problem.empty())
      return make_error(errc::serialization, "service " + id + ".endpoints[" +
                                                 std::to_string(k) +
                                                 "]: " + problem);
    if (endpoint.weight < 1 || endpoint.weight > 65535)
      return make_error(errc::serialization,
                        "service " + id + ".endpoints[" + std::to_string(k) +
                            "].weight: Consul takes 1..65535");
    std::string check_error;
    auto check_target =
        make_probe_target(endpoint.url, check.path, check_error);
    json::object http_check;
    put_string(http_check, "HTTP",
               check_target ? to_url(*check_target) : endpoint.url);
    put_string(http_check, "Interval", consul_duration(check.interval));
    put_string(http_check, "Timeout", consul_duration(check.timeout));
    if (check.deregister_critical_after.count() > 0)
      put_string(http_check, "DeregisterCriticalServiceAfter",
                 consul_duration(check.deregister_critical_after));
    if (target->tls)
      http_check["TLSSkipVerify"] = true;
    json::object body;
    auto instance_id =
        endpoints.size() == 1 ? id : id + "-" + std::to_string(k);
    put_string(body, "ID", instance_id);
    put_string(body, "Name", id);
    body["Tags"] = json::array{};
    put_string(body, "Address", target->host);
    body["Port"] = target->port;
    body["Meta"] = std::move(meta);
    body["Weights"] = json::object{{"Passing", endpoint.weight},
                                   {"Warning", endpoint.weight}};
    body["Check"] = std::move(http_check);
    out.push_back({instance_id, json::serialize(body)});
  }
  return out;
}

bool selected(const std::string& name, const std::vector<std::string>& tags,
              const std::string& prefix) {
  if (prefix.empty())
    return name != "consul";
  return name.rfind(prefix, 0) == 0 ||
         std::find(tags.begin(), tags.end(), prefix) != tags.end();
}

} // namespace orasi::backends::consul
