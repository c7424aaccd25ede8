#include "runtime/config/gateway_config.hpp"

#include <cmath>
#include <cstdio>

#include <arpa/inet.h>
#include <fstream>
#include <sstream>

#include <boost/describe/enumerators.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "messages/probe_messages.hpp"
#include "runtime/config/duplicate_keys.hpp"
#include "runtime/config/gateway_error.hpp"

namespace json = boost::json;

namespace orasi {

bool HealthCheckConfig::operator==(const HealthCheckConfig& other) const {
  return config_equal(*this, other);
}

bool EtcdConfig::operator==(const EtcdConfig& other) const {
  return config_equal(*this, other);
}

bool ConsulConfig::operator==(const ConsulConfig& other) const {
  return config_equal(*this, other);
}

bool LimitsConfig::operator==(const LimitsConfig& other) const {
  return config_equal(*this, other);
}

const char* to_string(ConsulHealthSource x) {
  switch (x) {
  case ConsulHealthSource::Consul:
    return "consul";
  case ConsulHealthSource::Probes:
    return "probes";
  case ConsulHealthSource::Both:
    return "both";
  }
  return "?";
}

const char* to_string(ServiceDiscoveryBackend x) {
  switch (x) {
  case ServiceDiscoveryBackend::Static:
    return "static";
  case ServiceDiscoveryBackend::Etcd:
    return "etcd";
  case ServiceDiscoveryBackend::Consul:
    break;
  }
  return "consul";
}

std::optional<Duration> parse_duration(std::string_view text) {
  // Integer arithmetic only: "2.01s" must be exactly 2010ms.
  size_t pos = 0;
  int64_t whole = 0;
  int64_t fraction = 0;
  int64_t fraction_scale = 1;
  auto digit_at = [&](size_t i) {
    return i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
  };
  if (!digit_at(0))
    return std::nullopt;
  for (; digit_at(pos); ++pos) {
    if (whole > 1'000'000'000'000)
      return std::nullopt;
    whole = whole * 10 + (text[pos] - '0');
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    if (!digit_at(pos))
      return std::nullopt;
    for (; digit_at(pos); ++pos) {
      if (fraction_scale >= 1'000'000'000)
        return std::nullopt;
      fraction = fraction * 10 + (text[pos] - '0');
      fraction_scale *= 10;
    }
  }
  auto unit = text.substr(pos);
  int64_t millis_per_unit = 0;
  if (unit == "ms")
    millis_per_unit = 1;
  else if (unit == "s")
    millis_per_unit = 1000;
  else if (unit == "m")
    millis_per_unit = 60'000;
  else if (unit == "h")
    millis_per_unit = 3'600'000;
  else
    return std::nullopt;
  if (whole > 1'000'000'000'000 / millis_per_unit)
    return std::nullopt; // beyond ~30 years
  auto fraction_millis = fraction * millis_per_unit;
  if (fraction_millis % fraction_scale != 0)
    return std::nullopt; // finer than a millisecond
  return Duration{whole * millis_per_unit + fraction_millis / fraction_scale};
}

std::string format_duration(Duration value) {
  auto ms = value.count();
  if (ms != 0 && ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

bool parse_listen_address(const std::string& text, std::string& host,
                          uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3)
      return false;
    host = host.substr(1, host.size() - 2);
  }
  auto digits = text.substr(colon + 1);
  if (digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](unsigned char c) { return std::isdigit(c); }))
    return false;
  auto value = std::stoul(digits);
  if (value > 65535)
    return false;
  port = static_cast<uint16_t>(value);
  return true;
}

namespace {

/// An IPv4/IPv6 literal or a DNS name (letters, digits, '-', '.').
bool is_valid_host(const std::string& host) {
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return true;
  if (host.empty() || host.size() > 253 || host.front() == '.' ||
      host.front() == '-')
    return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.';
  });
}

[[noreturn]] void fail(const std::string& field, const std::string& reason) {
  throw GatewayError{errc::config_invalid, field + ": " + reason};
}

/// "a.b": the field `name` of the object at `path` ("" is the root).
std::string field_path(const std::string& path, std::string_view name) {
  return path.empty() ? std::string{name} : path + "." + std::string{name};
}

// Readers of a present value, chosen by the member's type (an absent field
// keeps its default). Declared before the templates below, which call them.

void read_value(const json::value& in, const std::string& path, bool& out) {
  if (!in.is_bool())
    fail(path, "expected true or false");
  out = in.get_bool();
}

void read_value(const json::value& in, const std::string& path,
                std::string& out) {
  if (!in.is_string())
    fail(path, "expected a string");
  out = std::string{in.get_string()};
}

void read_value(const json::value& in, const std::string& path, uint32_t& out) {
  if (!in.is_int64() && !in.is_uint64())
    fail(path, "expected a non-negative integer");
  // Large unsigned values do not fit int64: compare without converting.
  auto in_range = in.is_uint64()
                      ? in.get_uint64() <= 1'000'000
                      : in.get_int64() >= 0 && in.get_int64() <= 1'000'000;
  if (!in_range)
    fail(path, "out of range 0..1000000");
  out = static_cast<uint32_t>(in.to_number<uint64_t>());
}

void read_value(const json::value& in, const std::string& path, uint64_t& out) {
  if (in.is_uint64() || (in.is_int64() && in.get_int64() >= 0))
    out = in.to_number<uint64_t>();
  else
    fail(path, "expected a non-negative integer");
}

void read_value(const json::value& in, const std::string& path, Duration& out) {
  if (!in.is_string())
    fail(path, "expected a duration string like \"30s\" or \"250ms\"");
  auto parsed = parse_duration(in.get_string());
  if (!parsed)
    fail(path, "bad duration \"" + std::string{in.get_string()} +
                   "\" (expected e.g. \"30s\", \"250ms\", \"5m\")");
  out = *parsed;
}

/// One entry of expected_statuses: 204 or "200-299".
void read_value(const json::value& in, const std::string& path,
                StatusRange& out) {
  auto in_range = [](int64_t code) { return code >= 100 && code <= 599; };
  if (in.is_int64() || in.is_uint64()) {
    auto code = in.is_int64() ? in.get_int64() : -1;
    if (!in_range(code))
      fail(path, "not an HTTP status (100..599)");
    out = StatusRange{static_cast<uint16_t>(code), static_cast<uint16_t>(code)};
    return;
  }
  if (!in.is_string())
    fail(path, "expected a status (204) or a range (\"200-299\")");
  std::string text{in.get_string()};
  int first = 0;
  int last = 0;
  char dash = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &first, &dash, &last, &extra) !=
          3 ||
      dash != '-' || !in_range(first) || !in_range(last) || first > last)
    fail(path, "bad status range \"" + text +
                   "\" (expected e.g. \"200-299\", both in 100..599)");
  out = StatusRange{static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
}

template <class T>
void read_elements(const json::array& in, const std::string& path,
                   std::vector<T>& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i)
    read_value(in[i], path + "[" + std::to_string(i) + "]", out.emplace_back());
}

void read_value(const json::value& in, const std::string& path,
                std::vector<std::string>& out) {
  if (!in.is_array())
    fail(path, "expected an array of strings");
  read_elements(in.get_array(), path, out);
}

void read_value(const json::value& in, const std::string& path,
                std::vector<StatusRange>& out) {
  if (!in.is_array() || in.get_array().empty())
    fail(path, "expected a non-empty array of statuses or ranges");
  read_elements(in.get_array(), path, out);
}

/// The static backend's services: ServiceInfo's own codec, strict.
void read_value(const json::value& in, const std::string& path,
                ServiceMap& out) {
  auto services = decode_services(in, path, unknown_fields::reject);
  if (!services)
    throw GatewayError{errc::config_invalid, error_message(services.error())};
  out = std::move(*services);
}

template <class T>
void read_value(const json::value& in, const std::string& path,
                std::optional<T>& out) {
  read_value(in, path, out.emplace());
}

/// What an unknown name of the enum is called in errors.
const char* enum_noun(ServiceDiscoveryBackend) {
  return "backend";
}
const char* enum_noun(ConsulHealthSource) {
  return "source";
}

/// An enumerator by its to_string().
template <class E>
std::enable_if_t<boost::describe::has_describe_enumerators<E>::value>
read_value(const json::value& in, const std::string& path, E& out) {
  std::string name;
  read_value(in, path, name);
  using enumerators = boost::describe::describe_enumerators<E>;
  constexpr auto count = boost::mp11::mp_size<enumerators>::value;
  bool found = false;
  std::string expected; // "static, etcd or consul"
  size_t index = 0;
  boost::mp11::mp_for_each<enumerators>([&](auto enumerator) {
    if (name == to_string(enumerator.value)) {
      out = enumerator.value;
      found = true;
    }
    expected += index == 0 ? "" : index + 1 == count ? " or " : ", ";
    expected += to_string(enumerator.value);
    ++index;
  });
  if (!found)
    fail(path, std::string{"unknown "} + enum_noun(E{}) + " \"" + name +
                   "\" (expected " + expected + ")");
}

/// Defaults that depend on other fields, applied once a section is read.
template <class T>
void after_read(T&, const json::object&) {}

void after_read(ServiceDiscoveryConfig& out, const json::object& in) {
  // The default names etcd's client port; Consul's agent listens on 8500.
  if (out.backend == ServiceDiscoveryBackend::Consul &&
      !in.contains("endpoints"))
    out.endpoints = {"http://127.0.0.1:8500"};
}

/// A described struct: unknown fields first, then each present field in
/// the description's order.
template <class T>
std::enable_if_t<has_config_fields_v<T>>
read_value(const json::value& in, const std::string& path, T& out) {
  // The root is "config" in errors, but its fields go by their own names.
  const auto where = path.empty() ? std::string{"config"} : path;
  if (!in.is_object())
    fail(where, "expected an object");
  const auto& object = in.get_object();
  for (const auto& member : object)
    if (!has_config_field<T>(member.key()))
      fail(field_path(where, member.key()), "unknown field");
  for_each_config_field<T>([&](const char* name, auto member) {
    if (auto value = object.if_contains(name))
      read_value(*value, field_path(path, name), out.*member);
  });
  after_read(out, object);
}

/// What a reload applies: the static backend's services (the README, "The
/// static backend"); every other field takes effect on restart.
template <class Section, class M>
bool applied_by_reload(M Section::*member) {
  if constexpr (std::is_same_v<Section, ServiceDiscoveryConfig> &&
                std::is_same_v<M, ServiceMap>)
    return member == &ServiceDiscoveryConfig::services;
  else
    return false;
}

/// "line 3, column 14" for the byte at `offset`.
std::string position_of(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

json::value parse_json(std::string_view text, const std::string& origin) {
  json::stream_parser parser;
  json::error_code ec;
  auto consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec)
    parser.finish(ec);
  if (ec)
    fail(origin, "malformed JSON at " + position_of(text, consumed) + ": " +
                     ec.message());
  return parser.release();
}

/// "" if `url` is scheme://host[:port][/] with an http(s) scheme and a port
/// in 1..65535; otherwise what is wrong with it.
std::string url_problem(const std::string& url) {
  auto scheme_end = url.find("://");
  auto scheme = url.substr(0, scheme_end);
  if (scheme_end == std::string::npos ||
      (scheme != "http" && scheme != "https"))
    return "is not an http(s) URL";
  auto authority = url.substr(scheme_end + 3);
  auto slash = authority.find('/');
  if (slash != std::string::npos) {
    if (slash + 1 != authority.size())
      return "must not have a path";
    authority.pop_back();
  }
  std::string host = authority;
  std::string port;
  auto colon = authority.rfind(':');
  if (colon != std::string::npos &&
      authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    auto valid_port = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), ::isdigit) &&
                      std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    if (!valid_port)
      return "has an invalid port";
  }
  if (host.empty())
    return "has no host";
  return {};
}

void check_url_list(const std::vector<std::string>& urls,
                    const std::string& field) {
  if (urls.empty())
    fail(field, "must list at least one address");
  for (size_t i = 0; i < urls.size(); ++i)
    if (auto problem = url_problem(urls[i]); !problem.empty())
      fail(field + "[" + std::to_string(i) + "]",
           "\"" + urls[i] + "\" " + problem);
}

void check_positive(Duration value, const std::string& field) {
  if (value.count() <= 0)
    fail(field, "must be greater than 0");
}

void check_at_least_one(uint32_t value, const std::string& field) {
  if (value < 1)
    fail(field, "must be at least 1");
}

void validate_consul(const ConsulConfig& consul) {
  const std::string path = "service_discovery.consul.";
  check_positive(consul.wait, path + "wait");
  if (consul.wait > std::chrono::minutes(10))
    fail(path + "wait", "must be at most 10m (Consul's cap)");
  if (consul.deregister_critical_after.count() != 0 &&
      consul.deregister_critical_after < std::chrono::minutes(1))
    fail(path + "deregister_critical_after",
         "must be 0 (off) or at least 1m (Consul's minimum)");
  check_positive(consul.dial_timeout, path + "dial_timeout");
  check_positive(consul.request_timeout, path + "request_timeout");
  if (!consul.ca_file.empty() && !std::ifstream{consul.ca_file})
    fail(path + "ca_file", "\"" + consul.ca_file + "\" cannot be read");
  if (consul.token.find_first_of("\r\n") != std::string::npos)
    fail(path + "token", "must be one line");
}

void validate_limits(const LimitsConfig& limits) {
  const std::string path = "service_discovery.limits.";
  check_at_least_one(limits.max_services, path + "max_services");
  check_at_least_one(limits.max_endpoints, path + "max_endpoints");
  // Below 64 KiB one ordinary etcd page or Consul answer would not fit.
  constexpr uint64_t smallest = 64 << 10;
  constexpr uint64_t largest = 1ull << 30;
  if (limits.max_response_bytes < smallest ||
      limits.max_response_bytes > largest)
    fail(path + "max_response_bytes",
         "must be between 65536 (64 KiB) and 1073741824 (1 GiB)");
}

void validate_etcd(const EtcdConfig& etcd) {
  const std::string path = "service_discovery.etcd.";
  // etcd counts lease TTLs in whole seconds.
  if (etcd.lease_ttl < std::chrono::seconds(1) ||
      etcd.lease_ttl % std::chrono::seconds(1) != Duration::zero())
    fail(path + "lease_ttl", "must be a whole number of seconds, at least 1s");
  check_positive(etcd.dial_timeout, path + "dial_timeout");
  check_positive(etcd.request_timeout, path + "request_timeout");
  if (etcd.username.empty() && !etcd.password.empty())
    fail(path + "password", "is set but username is not");
  if (etcd.cert_file.empty() != etcd.key_file.empty())
    fail(path + (etcd.cert_file.empty() ? "cert_file" : "key_file"),
         "cert_file and key_file go together");
  for (const auto& [field, file] : {std::pair{"ca_file", &etcd.ca_file},
                                    std::pair{"cert_file", &etcd.cert_file},
                                    std::pair{"key_file", &etcd.key_file}})
    if (!file->empty() && !std::ifstream{*file})
      fail(path + field, "\"" + *file + "\" cannot be read");
}

} // namespace

GatewayConfig GatewayConfig::from_json(std::string_view text,
                                       const std::string& origin) {
  auto root = parse_json(text, origin);
  if (auto duplicate = find_duplicate_key(text))
    fail(origin, "duplicate key \"" + *duplicate + "\"");
  GatewayConfig config;
  try {
    read_value(root, "", config);
    config.validate();
  } catch (const GatewayError& err) {
    throw GatewayError{err.kind(), origin + ": " + err.message()};
  }
  return config;
}

GatewayConfig GatewayConfig::from_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    fail(path, "cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = from_json(buffer.str(), path);
  config.source_file = path;
  return config;
}

void GatewayConfig::validate() const {
  const auto& sd = service_discovery;
  if (sd.backend != ServiceDiscoveryBackend::Static)
    check_url_list(sd.endpoints, "service_discovery.endpoints");
  if (sd.prefix.empty() || sd.prefix.front() != '/')
    fail("service_discovery.prefix", "must start with '/'");
  if (sd.backend == ServiceDiscoveryBackend::Etcd)
    validate_etcd(sd.etcd);
  if (sd.backend == ServiceDiscoveryBackend::Consul)
    validate_consul(sd.consul);
  validate_limits(sd.limits);
  check_positive(sd.refresh_interval, "service_discovery.refresh_interval");
  check_positive(sd.health_check_interval,
                 "service_discovery.health_check_interval");
  const auto& hc = sd.health_check;
  if (hc.health_check_path.empty() || hc.health_check_path.front() != '/')
    fail("service_discovery.health_check.path", "must start with '/'");
  if (has_unsafe_url_chars(hc.health_check_path) ||
      hc.health_check_path.find('#') != std::string::npos)
    fail("service_discovery.health_check.path",
         "must be printable ASCII without spaces or '#'");
  check_positive(hc.fast_interval,
                 "service_discovery.health_check.fast_interval");
  if (hc.retry_backoff.count() < 0)
    fail("service_discovery.health_check.retry_backoff",
         "must not be negative");
  if (hc.panic_threshold_percent > 100)
    fail("service_discovery.health_check.panic_threshold_percent",
         "must be at most 100");
  if (hc.jitter_percent > 50)
    fail("service_discovery.health_check.jitter_percent", "must be at most 50");
  if (hc.engine_threads < 1 || hc.engine_threads > max_engine_threads)
    fail("service_discovery.health_check.engine_threads",
         "must be between 1 and " + std::to_string(max_engine_threads));
  if (hc.max_idle_connections > 0 &&
      hc.max_idle_connections < hc.engine_threads)
    fail("service_discovery.health_check.max_idle_connections",
         "must be 0 (no cap) or at least engine_threads (" +
             std::to_string(hc.engine_threads) +
             "): the cap is divided over the engine's threads");
  if (hc.expected_statuses.empty())
    fail("service_discovery.health_check.expected_statuses",
         "must list at least one status");
  check_positive(hc.timeout, "service_discovery.health_check.timeout");
  if (hc.interval)
    check_positive(*hc.interval, "service_discovery.health_check.interval");
  if (hc.retries > 10)
    fail("service_discovery.health_check.retries", "must be at most 10");
  check_at_least_one(hc.success_threshold,
                     "service_discovery.health_check.success_threshold");
  check_at_least_one(hc.failure_threshold,
                     "service_discovery.health_check.failure_threshold");
  for (const auto& [id, info] : sd.services)
    if (auto err =
            validate_service(id, info, "service_discovery.services." + id))
      throw GatewayError{errc::config_invalid, error_message(err)};
  std::string host;
  uint16_t port = 0;
  if (!parse_listen_address(admin.listen, host, port))
    fail("admin.listen", "\"" + admin.listen + "\" is not host:port");
  if (!is_valid_host(host))
    fail("admin.listen", "\"" + host + "\" is not an IP address or host name");
  static constexpr std::string_view levels[] = {
      "trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(levels), std::end(levels), logging.level) ==
      std::end(levels))
    fail("logging.level", "unknown level \"" + logging.level +
                              "\" (expected trace, debug, info, warn, error, "
                              "critical or off)");
}

GatewayConfig restart_only_fields(const GatewayConfig& config) {
  GatewayConfig result;
  for_each_config_field<GatewayConfig>([&](const char*, auto part) {
    const auto& from = config.*part;
    auto& to = result.*part;
    using section_type = std::decay_t<decltype(from)>;
    for_each_config_field<section_type>([&](const char*, auto member) {
      if (!applied_by_reload(member))
        to.*member = from.*member;
    });
  });
  result.source_file = config.source_file;
  return result;
}

std::string restart_only_changes(const GatewayConfig& running,
                                 const GatewayConfig& next) {
  std::string result;
  for_each_config_field<GatewayConfig>([&](const char* section, auto part) {
    const auto& a = running.*part;
    const auto& b = next.*part;
    using section_type = std::decay_t<decltype(a)>;
    for_each_config_field<section_type>([&](const char* name, auto member) {
      if (applied_by_reload(member) || config_equal(a.*member, b.*member))
        return;
      if (!result.empty())
        result += ", ";
      result += std::string{section} + "." + name;
    });
  });
  return result;
}

} // namespace orasi
