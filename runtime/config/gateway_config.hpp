// GatewayConfig: the spec's configuration, loaded from JSON with defaults
// for every field and validated with errors that name the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/service_info.hpp"
#include "runtime/config/config_fields.hpp"
#include "runtime/config/health_check_config.hpp"

// Before C++20, Boost.Describe's macros pass empty lists (bases, protected
// and private members) through GNU's ", ## __VA_ARGS__", which clang's
// -Wpedantic reports at every BOOST_DESCRIBE_STRUCT below (GCC does not).
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-zero-variadic-macro-arguments"
#endif

namespace orasi {

enum class ServiceDiscoveryBackend : uint8_t { Static, Etcd, Consul };

/// "static", "etcd", "consul".
const char* to_string(ServiceDiscoveryBackend x);

// The config file names an enumerator by its to_string().
BOOST_DESCRIBE_ENUM(ServiceDiscoveryBackend, Static, Etcd, Consul)

/// `service_discovery.etcd`: the etcd backend's connection and lease.
struct EtcdConfig {
  /// TTL of the lease this instance's registrations are attached to (whole
  /// seconds); a crashed instance's services vanish after it.
  Duration lease_ttl = std::chrono::seconds(15);
  /// false: no watch; changes arrive by the refresh_interval re-list only
  /// (the original module's polling behaviour).
  bool watch = true;
  /// Connecting to one member; a member that does not answer is skipped.
  Duration dial_timeout = std::chrono::seconds(2);
  /// One unary request (range page, put, delete, lease call).
  Duration request_timeout = std::chrono::seconds(5);
  /// etcd auth (`etcdctl auth enable`): a token is fetched with these.
  std::string username;
  std::string password;
  /// TLS for https:// endpoints: CA bundle (default: the system's CAs) and
  /// an optional client certificate and key (both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool operator==(const EtcdConfig& other) const;
  bool operator!=(const EtcdConfig& other) const { return !(*this == other); }
};

BOOST_DESCRIBE_STRUCT(EtcdConfig, (),
                      (lease_ttl, watch, dial_timeout, request_timeout,
                       username, password, ca_file, cert_file, key_file))

/// Which verdict decides endpoint health with the Consul backend.
enum class ConsulHealthSource : uint8_t {
  /// Consul's checks only; orasi does not probe.
  Consul,
  /// orasi's probes only; Consul's check status is ignored.
  Probes,
  /// Both: orasi probes, and an instance Consul calls critical is
  /// Unhealthy (warning: degraded) whatever the probes say.
  Both,
};

/// "consul", "probes", "both".
const char* to_string(ConsulHealthSource x);

BOOST_DESCRIBE_ENUM(ConsulHealthSource, Consul, Probes, Both)

/// `service_discovery.consul`: the Consul backend (agents in `endpoints`).
struct ConsulConfig {
  std::string datacenter; // empty: the agent's own
  /// ACL token, sent as X-Consul-Token; never logged.
  std::string token;
  /// Services selected: names starting with it, or tagged with it; empty:
  /// every service but Consul's own.
  std::string service_prefix;
  ConsulHealthSource health_source = ConsulHealthSource::Both;
  /// Blocking query wait (at most 10 minutes, Consul's cap).
  Duration wait = std::chrono::minutes(5);
  /// Registrations: Consul removes an instance critical this long (0: no).
  Duration deregister_critical_after = Duration::zero();
  Duration dial_timeout = std::chrono::seconds(2);
  Duration request_timeout = std::chrono::seconds(5);
  /// CA bundle for https:// agents (default: the system's CAs).
  std::string ca_file;

  bool operator==(const ConsulConfig& other) const;
  bool operator!=(const ConsulConfig& other) const { return !(*this == other); }
};

BOOST_DESCRIBE_STRUCT(ConsulConfig, (),
                      (datacenter, token, service_prefix, health_source, wait,
                       deregister_critical_after, dial_timeout, request_timeout,
                       ca_file))

/// Bounds on what a backend may hand the runtime (see
/// actors/backend_limits.hpp): listings and changes that would cross them
/// are refused with an error naming the limit; the last good services stay.
struct LimitsConfig {
  uint32_t max_services = 50'000;
  uint32_t max_endpoints = 100'000; // over all services
  /// One backend response (an etcd range page or watch message, a Consul
  /// answer); a bigger one is cut off and fails like a bad response.
  uint64_t max_response_bytes = 64ull << 20;

  bool operator==(const LimitsConfig& other) const;
  bool operator!=(const LimitsConfig& other) const { return !(*this == other); }
};

BOOST_DESCRIBE_STRUCT(LimitsConfig, (),
                      (max_services, max_endpoints, max_response_bytes))

/// `service_discovery`.
struct ServiceDiscoveryConfig {
  ServiceDiscoveryBackend backend = ServiceDiscoveryBackend::Static;
  /// Backend addresses (etcd members, Consul agents); unused by static.
  /// (Not a braced list: GCC 12 crashes counting the members of a struct
  /// whose member is a braced list of strings, which
  /// tests/unit/config_readme_test.cpp does.)
  std::vector<std::string> endpoints =
      std::vector<std::string>(1, "http://127.0.0.1:2379");
  /// Key prefix in etcd: services live under <prefix>/services/<id>.
  std::string prefix = "/orasi";
  /// Full re-list period (a safety net next to push updates).
  Duration refresh_interval = std::chrono::seconds(30);
  Duration health_check_interval = std::chrono::seconds(10);
  /// `service_discovery.health_check`.
  HealthCheckConfig health_check;
  /// `service_discovery.etcd`.
  EtcdConfig etcd;
  /// `service_discovery.consul`.
  ConsulConfig consul;
  /// `service_discovery.limits`.
  LimitsConfig limits;
  /// The static backend's services.
  ServiceMap services;

  /// health_check.interval if set, else health_check_interval.
  Duration effective_health_check_interval() const {
    return health_check.interval.value_or(health_check_interval);
  }
};

BOOST_DESCRIBE_STRUCT(ServiceDiscoveryConfig, (),
                      (backend, endpoints, prefix, refresh_interval,
                       health_check_interval, health_check, etcd, consul,
                       limits, services))

/// `admin`: the launcher's HTTP admin API.
struct AdminConfig {
  /// host:port; port 0 picks a free port.
  std::string listen = "127.0.0.1:9650";
  /// When set, writes (PUT, DELETE) need "Authorization: Bearer <token>".
  std::string token;
};

BOOST_DESCRIBE_STRUCT(AdminConfig, (), (listen, token))

/// `logging`.
struct LoggingConfig {
  /// trace, debug, info, warn, error, critical, off.
  std::string level = "info";
};

BOOST_DESCRIBE_STRUCT(LoggingConfig, (), (level))

struct GatewayConfig {
  ServiceDiscoveryConfig service_discovery;
  AdminConfig admin;
  LoggingConfig logging;
  /// The file this config was loaded from; the static backend re-reads it on
  /// SIGHUP and on change. Empty for configs built in code.
  std::string source_file;

  /// Loads and validates a JSON config file. Throws GatewayError
  /// (config_invalid) naming the file and the field at fault.
  static GatewayConfig from_file(const std::string& path);

  /// Loads and validates JSON text; `origin` names it in errors.
  static GatewayConfig from_json(std::string_view text,
                                 const std::string& origin = "config");

  /// Throws GatewayError (config_invalid) naming the first invalid field.
  void validate() const;
};

// source_file is where the config came from, not a field of it.
BOOST_DESCRIBE_STRUCT(GatewayConfig, (), (service_discovery, admin, logging))

/// The fields (outside service_discovery.services) whose values differ,
/// comma-separated, e.g. "service_discovery.backend, admin.listen"; empty if
/// none. A section's own fields are named, not their parts
/// ("service_discovery.etcd"). Used to warn that a reload does not apply them.
std::string restart_only_changes(const GatewayConfig& running,
                                 const GatewayConfig& next);

/// `config` without what a reload applies (service_discovery.services):
/// what restart_only_changes() needs of the running config, at a size that
/// does not grow with the services. The copy is made field by field, so the
/// services are never copied, not even for a moment.
GatewayConfig restart_only_fields(const GatewayConfig& config);

/// Parses "250ms", "30s", "1.5m", "2h"; std::nullopt if malformed.
std::optional<Duration> parse_duration(std::string_view text);

/// Formats a duration the way parse_duration reads it ("250ms", "30s").
std::string format_duration(Duration value);

/// Splits "host:port" (or "[v6]:port"); false if malformed.
bool parse_listen_address(const std::string& text, std::string& host,
                          uint16_t& port);

} // namespace orasi

#ifdef __clang__
#pragma clang diagnostic pop
#endif
