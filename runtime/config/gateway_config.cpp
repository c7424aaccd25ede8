#include "runtime/config/gateway_config.hpp"

#include <cmath>
#include <cstdio>

#include <arpa/inet.h>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "backends/static_source.hpp"
#include "messages/json_codec.hpp"
#include "messages/probe_messages.hpp"
#include "runtime/config/duplicate_keys.hpp"
#include "runtime/config/gateway_error.hpp"

namespace json = boost::json;

namespace orasi {

bool HealthCheckConfig::operator==(const HealthCheckConfig& other) const {
  return timeout == other.timeout &&
         health_check_path == other.health_check_path &&
         interval == other.interval && retries == other.retries &&
         success_threshold == other.success_threshold &&
         failure_threshold == other.failure_threshold &&
         expected_statuses == other.expected_statuses &&
         enabled == other.enabled && jitter_percent == other.jitter_percent &&
         fast_interval == other.fast_interval &&
         retry_backoff == other.retry_backoff &&
         keep_alive == other.keep_alive && tls_verify == other.tls_verify &&
         panic_threshold_percent == other.panic_threshold_percent;
}

bool EtcdConfig::operator==(const EtcdConfig& other) const {
  return lease_ttl == other.lease_ttl && watch == other.watch &&
         dial_timeout == other.dial_timeout &&
         request_timeout == other.request_timeout &&
         username == other.username && password == other.password &&
         ca_file == other.ca_file && cert_file == other.cert_file &&
         key_file == other.key_file;
}

bool ConsulConfig::operator==(const ConsulConfig& other) const {
  return datacenter == other.datacenter && token == other.token &&
         service_prefix == other.service_prefix &&
         health_source == other.health_source && wait == other.wait &&
         deregister_critical_after == other.deregister_critical_after &&
         dial_timeout == other.dial_timeout &&
         request_timeout == other.request_timeout && ca_file == other.ca_file;
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

/// Reads the members of one JSON object, rejecting unknown fields.
class object_reader {
public:
  object_reader(const json::value& value, std::string path)
      : path_(std::move(path)) {
    if (!value.is_object())
      fail(path_, "expected an object");
    object_ = &value.get_object();
  }

  void check_known(std::initializer_list<std::string_view> known) const {
    for (const auto& member : *object_)
      if (std::find(known.begin(), known.end(), member.key()) == known.end())
        fail(field(member.key()), "unknown field");
  }

  const json::value* find(std::string_view key) const {
    return object_->if_contains(key);
  }

  std::string field(std::string_view key) const {
    return path_ + "." + std::string{key};
  }

  void read(std::string_view key, bool& out) const {
    if (auto value = find(key)) {
      if (!value->is_bool())
        fail(field(key), "expected true or false");
      out = value->get_bool();
    }
  }

  void read(std::string_view key, std::string& out) const {
    if (auto value = find(key)) {
      if (!value->is_string())
        fail(field(key), "expected a string");
      out = std::string{value->get_string()};
    }
  }

  void read(std::string_view key, uint32_t& out) const {
    if (auto value = find(key)) {
      if (!value->is_int64() && !value->is_uint64())
        fail(field(key), "expected a non-negative integer");
      // Large unsigned values do not fit int64: compare without converting.
      auto in_range = value->is_uint64() ? value->get_uint64() <= 1'000'000
                                         : value->get_int64() >= 0 &&
                                               value->get_int64() <= 1'000'000;
      if (!in_range)
        fail(field(key), "out of range 0..1000000");
      out = static_cast<uint32_t>(value->to_number<uint64_t>());
    }
  }

  void read(std::string_view key, uint64_t& out) const {
    if (auto value = find(key)) {
      if (value->is_uint64() || (value->is_int64() && value->get_int64() >= 0))
        out = value->to_number<uint64_t>();
      else
        fail(field(key), "expected a non-negative integer");
    }
  }

  void read(std::string_view key, Duration& out) const {
    if (auto value = find(key)) {
      if (!value->is_string())
        fail(field(key), "expected a duration string like \"30s\" or "
                         "\"250ms\"");
      auto parsed = parse_duration(value->get_string());
      if (!parsed)
        fail(field(key), "bad duration \"" + std::string{value->get_string()} +
                             "\" (expected e.g. \"30s\", \"250ms\", \"5m\")");
      out = *parsed;
    }
  }

  void read(std::string_view key, std::optional<Duration>& out) const {
    if (find(key)) {
      Duration value{};
      read(key, value);
      out = value;
    }
  }

  void read(std::string_view key, std::vector<std::string>& out) const {
    if (auto value = find(key)) {
      if (!value->is_array())
        fail(field(key), "expected an array of strings");
      out.clear();
      const auto& array = value->get_array();
      for (size_t i = 0; i < array.size(); ++i) {
        if (!array[i].is_string())
          fail(field(key) + "[" + std::to_string(i) + "]", "expected a string");
        out.emplace_back(array[i].get_string());
      }
    }
  }

private:
  std::string path_;
  const json::object* object_ = nullptr;
};

/// One entry of expected_statuses: 204 or "200-299".
StatusRange read_status_range(const json::value& value,
                              const std::string& field) {
  auto in_range = [](int64_t code) { return code >= 100 && code <= 599; };
  if (value.is_int64() || value.is_uint64()) {
    auto code = value.is_int64() ? value.get_int64() : -1;
    if (!in_range(code))
      fail(field, "not an HTTP status (100..599)");
    return StatusRange{static_cast<uint16_t>(code),
                       static_cast<uint16_t>(code)};
  }
  if (value.is_string()) {
    std::string text{value.get_string()};
    int first = 0;
    int last = 0;
    char dash = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%d%c%d%c", &first, &dash, &last, &extra) ==
            3 &&
        dash == '-' && in_range(first) && in_range(last) && first <= last)
      return StatusRange{static_cast<uint16_t>(first),
                         static_cast<uint16_t>(last)};
    fail(field, "bad status range \"" + text +
                    "\" (expected e.g. \"200-299\", both in 100..599)");
  }
  fail(field, "expected a status (204) or a range (\"200-299\")");
}

void read_expected_statuses(const object_reader& reader,
                            std::vector<StatusRange>& out) {
  auto value = reader.find("expected_statuses");
  if (!value)
    return;
  auto field = reader.field("expected_statuses");
  if (!value->is_array() || value->get_array().empty())
    fail(field, "expected a non-empty array of statuses or ranges");
  out.clear();
  const auto& array = value->get_array();
  for (size_t i = 0; i < array.size(); ++i)
    out.push_back(
        read_status_range(array[i], field + "[" + std::to_string(i) + "]"));
}

void read_health_check(const json::value& value, HealthCheckConfig& out) {
  object_reader reader{value, "service_discovery.health_check"};
  reader.check_known({"enabled", "path", "timeout", "interval", "retries",
                      "success_threshold", "failure_threshold",
                      "expected_statuses", "jitter_percent", "fast_interval",
                      "retry_backoff", "keep_alive", "tls_verify",
                      "panic_threshold_percent"});
  reader.read("enabled", out.enabled);
  reader.read("path", out.health_check_path);
  reader.read("timeout", out.timeout);
  reader.read("interval", out.interval);
  reader.read("retries", out.retries);
  reader.read("success_threshold", out.success_threshold);
  reader.read("failure_threshold", out.failure_threshold);
  read_expected_statuses(reader, out.expected_statuses);
  reader.read("jitter_percent", out.jitter_percent);
  reader.read("fast_interval", out.fast_interval);
  reader.read("retry_backoff", out.retry_backoff);
  reader.read("keep_alive", out.keep_alive);
  reader.read("tls_verify", out.tls_verify);
  reader.read("panic_threshold_percent", out.panic_threshold_percent);
}

void read_etcd(const json::value& value, EtcdConfig& out) {
  object_reader reader{value, "service_discovery.etcd"};
  reader.check_known({"lease_ttl", "watch", "dial_timeout", "request_timeout",
                      "username", "password", "ca_file", "cert_file",
                      "key_file"});
  reader.read("lease_ttl", out.lease_ttl);
  reader.read("watch", out.watch);
  reader.read("dial_timeout", out.dial_timeout);
  reader.read("request_timeout", out.request_timeout);
  reader.read("username", out.username);
  reader.read("password", out.password);
  reader.read("ca_file", out.ca_file);
  reader.read("cert_file", out.cert_file);
  reader.read("key_file", out.key_file);
}

void read_consul(const json::value& value, ConsulConfig& out) {
  object_reader reader{value, "service_discovery.consul"};
  reader.check_known({"datacenter", "token", "service_prefix", "health_source",
                      "wait", "deregister_critical_after", "dial_timeout",
                      "request_timeout", "ca_file"});
  reader.read("datacenter", out.datacenter);
  reader.read("token", out.token);
  reader.read("service_prefix", out.service_prefix);
  std::string source;
  reader.read("health_source", source);
  if (source == "consul")
    out.health_source = ConsulHealthSource::Consul;
  else if (source == "probes")
    out.health_source = ConsulHealthSource::Probes;
  else if (source == "both")
    out.health_source = ConsulHealthSource::Both;
  else if (reader.find("health_source"))
    fail(reader.field("health_source"),
         "unknown source \"" + source + "\" (expected consul, probes or both)");
  reader.read("wait", out.wait);
  reader.read("deregister_critical_after", out.deregister_critical_after);
  reader.read("dial_timeout", out.dial_timeout);
  reader.read("request_timeout", out.request_timeout);
  reader.read("ca_file", out.ca_file);
}

void read_backend(const object_reader& reader, ServiceDiscoveryBackend& out) {
  std::string name;
  reader.read("backend", name);
  if (name.empty() && !reader.find("backend"))
    return;
  if (name == "static")
    out = ServiceDiscoveryBackend::Static;
  else if (name == "etcd")
    out = ServiceDiscoveryBackend::Etcd;
  else if (name == "consul")
    out = ServiceDiscoveryBackend::Consul;
  else
    fail(reader.field("backend"),
         "unknown backend \"" + name + "\" (expected static, etcd or consul)");
}

void read_limits(const json::value& value, LimitsConfig& out) {
  object_reader reader{value, "service_discovery.limits"};
  reader.check_known({"max_services", "max_endpoints", "max_response_bytes"});
  reader.read("max_services", out.max_services);
  reader.read("max_endpoints", out.max_endpoints);
  reader.read("max_response_bytes", out.max_response_bytes);
}

void read_service_discovery(const json::value& root, const json::value& value,
                            ServiceDiscoveryConfig& out) {
  object_reader reader{value, "service_discovery"};
  reader.check_known({"backend", "endpoints", "prefix", "refresh_interval",
                      "health_check_interval", "health_check", "etcd", "consul",
                      "limits", "services"});
  read_backend(reader, out.backend);
  reader.read("endpoints", out.endpoints);
  // The default names etcd's client port; Consul's agent listens on 8500.
  if (out.backend == ServiceDiscoveryBackend::Consul &&
      !reader.find("endpoints"))
    out.endpoints = {"http://127.0.0.1:8500"};
  reader.read("prefix", out.prefix);
  reader.read("refresh_interval", out.refresh_interval);
  reader.read("health_check_interval", out.health_check_interval);
  if (auto health_check = reader.find("health_check"))
    read_health_check(*health_check, out.health_check);
  if (auto etcd = reader.find("etcd"))
    read_etcd(*etcd, out.etcd);
  if (auto consul = reader.find("consul"))
    read_consul(*consul, out.consul);
  if (auto limits = reader.find("limits"))
    read_limits(*limits, out.limits);
  auto services = backends::static_services_from_config(root);
  if (!services)
    throw GatewayError::from(services.error());
  out.services = std::move(*services);
}

GatewayConfig read_config(const json::value& root) {
  GatewayConfig config;
  object_reader reader{root, "config"};
  reader.check_known({"service_discovery", "admin", "logging"});
  if (auto discovery = reader.find("service_discovery"))
    read_service_discovery(root, *discovery, config.service_discovery);
  if (auto admin = reader.find("admin")) {
    object_reader admin_reader{*admin, "admin"};
    admin_reader.check_known({"listen", "token"});
    admin_reader.read("listen", config.admin.listen);
    admin_reader.read("token", config.admin.token);
  }
  if (auto logging = reader.find("logging")) {
    object_reader logging_reader{*logging, "logging"};
    logging_reader.check_known({"level"});
    logging_reader.read("level", config.logging.level);
  }
  return config;
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
    config = read_config(root);
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

std::string restart_only_changes(const GatewayConfig& running,
                                 const GatewayConfig& next) {
  const auto& a = running.service_discovery;
  const auto& b = next.service_discovery;
  const auto& ha = a.health_check;
  const auto& hb = b.health_check;
  std::pair<const char*, bool> fields[] = {
      {"service_discovery.backend", a.backend != b.backend},
      {"service_discovery.endpoints", a.endpoints != b.endpoints},
      {"service_discovery.prefix", a.prefix != b.prefix},
      {"service_discovery.refresh_interval",
       a.refresh_interval != b.refresh_interval},
      {"service_discovery.health_check_interval",
       a.health_check_interval != b.health_check_interval},
      {"service_discovery.health_check", ha != hb},
      {"service_discovery.etcd", a.etcd != b.etcd},
      {"service_discovery.consul", a.consul != b.consul},
      {"service_discovery.limits", a.limits != b.limits},
      {"admin.listen", running.admin.listen != next.admin.listen},
      {"admin.token", running.admin.token != next.admin.token},
      {"logging.level", running.logging.level != next.logging.level},
  };
  std::string result;
  for (const auto& [name, changed] : fields) {
    if (!changed)
      continue;
    if (!result.empty())
      result += ", ";
    result += name;
  }
  return result;
}

} // namespace orasi
