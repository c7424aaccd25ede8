// Threads: cpp-httplib's pool runs the handlers. All state sits behind one
// mutex; blocked queries wait on one condition variable that every change
// notifies, and each re-checks its own view's index (as Consul's watch sets
// wake a query that then re-runs and compares indexes).
//
// Texts and shapes follow Consul 1.16 (agent/http.go, agent_endpoint.go,
// health_endpoint.go, state/catalog.go); each departure is commented.
#include "tests/support/consul_emulator.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/json.hpp>
#include <httplib.h>

namespace orasi::test {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// --- Go's durations -------------------------------------------------------
// Consul parses `wait` and check durations with Go's time.ParseDuration and
// prints check intervals with Duration.String(); clients that send "10"
// instead of "10s" must fail here as they would there.

constexpr int64_t nanos_per_second = 1'000'000'000;

/// Go's time.ParseDuration, with its error texts; nanoseconds.
std::optional<int64_t> parse_go_duration(std::string_view text,
                                         std::string& error) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto invalid = [&]() -> std::optional<int64_t> {
    error = "time: invalid duration " + quoted;
    return std::nullopt;
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0")
    return 0;
  if (rest.empty())
    return invalid();
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  long double total = 0;
  while (!rest.empty()) {
    if (!(rest[0] == '.' || is_digit(rest[0])))
      return invalid();
    size_t at = 0;
    long double value = 0;
    bool digits = false;
    for (; at < rest.size() && is_digit(rest[at]); ++at, digits = true)
      value = value * 10 + (rest[at] - '0');
    if (at < rest.size() && rest[at] == '.') {
      long double scale = 1;
      for (++at; at < rest.size() && is_digit(rest[at]); ++at, digits = true)
        value += (rest[at] - '0') * (scale /= 10);
    }
    if (!digits)
      return invalid();
    size_t unit_end = at;
    while (unit_end < rest.size() && rest[unit_end] != '.' &&
           !is_digit(rest[unit_end]))
      ++unit_end;
    const std::string_view unit = rest.substr(at, unit_end - at);
    if (unit.empty()) {
      error = "time: missing unit in duration " + quoted;
      return std::nullopt;
    }
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else {
      error = "time: unknown unit \"" + std::string(unit) + "\" in duration " +
              quoted;
      return std::nullopt;
    }
    total += value * scale;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max()))
      return invalid();
    rest.remove_prefix(unit_end);
  }
  const auto result = static_cast<int64_t>(std::llround(total));
  return negative ? -result : result;
}

/// `whole` and the fraction `remainder`/`unit`, trailing zeros dropped.
std::string with_fraction(uint64_t whole, uint64_t remainder, uint64_t unit) {
  std::string text = std::to_string(whole);
  if (remainder == 0)
    return text;
  std::string digits = std::to_string(remainder);
  const auto width = std::to_string(unit).size() - 1;
  digits.insert(0, width - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  return text + "." + digits;
}

/// Go's Duration.String(): "10s", "1m0s", "1.5s", "300ms", "0s".
std::string go_duration_string(int64_t nanos) {
  if (nanos == 0)
    return "0s";
  const uint64_t u = nanos < 0 ? 0 - static_cast<uint64_t>(nanos)
                               : static_cast<uint64_t>(nanos);
  std::string text;
  if (u < 1000)
    text = std::to_string(u) + "ns";
  else if (u < 1'000'000)
    text = with_fraction(u / 1000, u % 1000, 1000) + "\xC2\xB5s";
  else if (u < static_cast<uint64_t>(nanos_per_second))
    text = with_fraction(u / 1'000'000, u % 1'000'000, 1'000'000) + "ms";
  else {
    const uint64_t seconds = u / nanos_per_second;
    const std::string secs =
        with_fraction(seconds % 60, u % nanos_per_second, nanos_per_second) +
        "s";
    if (seconds >= 3600)
      text = std::to_string(seconds / 3600) + "h" +
             std::to_string(seconds / 60 % 60) + "m" + secs;
    else if (seconds >= 60)
      text = std::to_string(seconds / 60) + "m" + secs;
    else
      text = secs;
  }
  return nanos < 0 ? "-" + text : text;
}

// --- small helpers ----------------------------------------------------------

bool valid_status(const std::string& status) {
  return status == "passing" || status == "warning" || status == "critical";
}

void require_valid_status(const std::string& status) {
  if (!valid_status(status))
    throw std::invalid_argument("consul_emulator: check status \"" + status +
                                "\" is not passing, warning or critical");
}

std::string lowercase(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

/// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(const std::string& text) {
  if (text == "1" || text == "t" || text == "T" || text == "true" ||
      text == "TRUE" || text == "True")
    return true;
  if (text == "0" || text == "f" || text == "F" || text == "false" ||
      text == "FALSE" || text == "False")
    return false;
  return std::nullopt;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

/// A node ID shaped like Consul's (a UUID), stable for a node name.
std::string node_uuid(const std::string& name, const std::string& agent_node) {
  if (name == agent_node)
    return "40e4a748-2192-161a-0510-9bf59fe950b5";
  const auto h1 = std::hash<std::string>{}(name);
  const auto h2 = std::hash<std::string>{}(name + "#");
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(h1 >> 32),
                static_cast<unsigned>((h1 >> 16) & 0xffff),
                static_cast<unsigned>(h1 & 0xffff),
                static_cast<unsigned>(h2 >> 48),
                static_cast<unsigned long long>(h2 & 0xffffffffffffULL));
  return text;
}

/// What a check of `type` would print for `status` (Consul's wording).
std::string default_output(const consul_check& check,
                           const std::string& status) {
  if (check.type == "http" && !check.http.empty()) {
    if (status == "passing")
      return "HTTP GET " + check.http + ": 200 OK Output: ok";
    if (status == "warning")
      return "HTTP GET " + check.http + ": 429 Too Many Requests Output: ";
    return "Get \"" + check.http + "\": dial tcp: connect: connection refused";
  }
  if (check.type == "tcp")
    return status == "passing" ? "TCP connect: Success"
                               : "dial tcp: connect: connection refused";
  return "";
}

const char* reason_phrase(int status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 429:
    return "Too Many Requests";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Internal Server Error";
  }
}

const char* serf_output(const std::string& status) {
  return status == "passing" ? "Agent alive and reachable"
                             : "Agent not live or unreachable";
}

// --- connections ------------------------------------------------------------
// cpp-httplib 0.11 exposes no accepted socket, yet the emulator needs them:
// an idle keep-alive connection keeps a pool thread polling for up to its
// keep-alive timeout after Server::stop() (so stop() and destruction would
// hang), and a blocked query cannot see its client leave. The sockets are
// found in /proc/self/fd by their local port (ours; nothing else can bind
// 127.0.0.1:<port> while we listen) and a peer (the listener has none).

using socket_visitor = std::function<void(int fd, uint16_t peer_port)>;

void for_each_connection(uint16_t port, const socket_visitor& visit) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0')
      continue;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local),
                      &length) != 0 ||
        local.ss_family != AF_INET ||
        ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port) != port)
      continue;
    sockaddr_storage peer{};
    length = sizeof peer;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer),
                      &length) != 0 ||
        peer.ss_family != AF_INET)
      continue;
    visit(static_cast<int>(fd),
          ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port));
  }
  ::closedir(dir);
}

/// Whether the peer of `fd` has closed its side (EOF waiting to be read).
bool peer_closed(int fd) {
  char byte = 0;
  const auto got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got == 0;
}

// --- JSON decoding of registrations -----------------------------------------
// Go's encoding/json matches field names case-insensitively, and Consul adds
// snake_case aliases ("enable_tag_override", "deregister_critical_..."):
// fields are matched with case and underscores ignored; the last match wins,
// as the last key wins in Go.

std::string field_key(std::string_view name) {
  std::string key;
  for (char c : name)
    if (c != '_')
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

const json::value* field(const json::object& object, std::string_view name) {
  const std::string wanted = field_key(name);
  const json::value* found = nullptr;
  for (const auto& entry : object)
    if (field_key(entry.key()) == wanted)
      found = &entry.value();
  return found;
}

/// A decode error, worded like Go's.
struct decode_error {
  std::string text;
};

const char* json_kind(const json::value& value) {
  switch (value.kind()) {
  case json::kind::string:
    return "string";
  case json::kind::object:
    return "object";
  case json::kind::array:
    return "array";
  case json::kind::bool_:
    return "bool";
  case json::kind::null:
    return "null";
  default:
    return "number";
  }
}

[[noreturn]] void type_mismatch(const json::value& value,
                                const std::string& where,
                                const std::string& go_type) {
  throw decode_error{"json: cannot unmarshal " + std::string(json_kind(value)) +
                     " into Go struct field " + where + " of type " + go_type};
}

std::string as_string(const json::value* value, const std::string& where) {
  if (value == nullptr || value->is_null())
    return {};
  if (!value->is_string())
    type_mismatch(*value, where, "string");
  return std::string(value->get_string());
}

bool as_bool(const json::value* value, const std::string& where) {
  if (value == nullptr || value->is_null())
    return false;
  if (!value->is_bool())
    type_mismatch(*value, where, "bool");
  return value->get_bool();
}

int64_t as_int(const json::value* value, const std::string& where) {
  if (value == nullptr || value->is_null())
    return 0;
  if (value->is_int64())
    return value->get_int64();
  if (value->is_uint64() &&
      value->get_uint64() <=
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(value->get_uint64());
  type_mismatch(*value, where, "int");
}

std::vector<std::string> as_strings(const json::value* value,
                                    const std::string& where) {
  std::vector<std::string> result;
  if (value == nullptr || value->is_null())
    return result;
  if (!value->is_array())
    type_mismatch(*value, where, "[]string");
  for (const auto& item : value->get_array()) {
    if (!item.is_string())
      type_mismatch(item, where, "string");
    result.emplace_back(item.get_string());
  }
  return result;
}

std::map<std::string, std::string> as_string_map(const json::value* value,
                                                 const std::string& where) {
  std::map<std::string, std::string> result;
  if (value == nullptr || value->is_null())
    return result;
  if (!value->is_object())
    type_mismatch(*value, where, "map[string]string");
  for (const auto& entry : value->get_object()) {
    if (!entry.value().is_string())
      type_mismatch(entry.value(), where, "string");
    result[std::string(entry.key())] = std::string(entry.value().get_string());
  }
  return result;
}

/// A duration field: a Go duration string or a number of nanoseconds (both
/// accepted by Consul's CheckType.UnmarshalJSON). Returns {as sent, ns}.
std::pair<std::string, int64_t> as_duration(const json::value* value) {
  if (value == nullptr || value->is_null())
    return {"", 0};
  if (value->is_string()) {
    std::string error;
    const std::string text(value->get_string());
    const auto nanos = parse_go_duration(text, error);
    if (!nanos)
      throw decode_error{error};
    return {text, *nanos};
  }
  if (value->is_number()) {
    const auto nanos = static_cast<int64_t>(value->to_number<double>());
    return {std::to_string(nanos), nanos};
  }
  throw decode_error{"json: cannot unmarshal " +
                     std::string(json_kind(*value)) +
                     " into Go value of type time.Duration"};
}

/// A check definition and what Consul derives from it.
struct parsed_check {
  consul_check_definition definition;
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t ttl = 0;
  bool interval_check = false; // HTTP, TCP, script, ...: needs an Interval
  bool alias = false;
  std::string type;
  bool empty = true; // no field set: Consul drops it
};

parsed_check parse_check(const json::value& value) {
  const std::string where = "ServiceDefinition.Check";
  if (!value.is_object())
    type_mismatch(value, where, "structs.CheckType");
  const auto& object = value.get_object();
  parsed_check check;
  check.empty = object.empty();
  auto& d = check.definition;
  d.check_id = as_string(field(object, "CheckID"), where + ".CheckID");
  d.name = as_string(field(object, "Name"), where + ".Name");
  d.http = as_string(field(object, "HTTP"), where + ".HTTP");
  d.method = as_string(field(object, "Method"), where + ".Method");
  d.tcp = as_string(field(object, "TCP"), where + ".TCP");
  d.status = as_string(field(object, "Status"), where + ".Status");
  d.notes = as_string(field(object, "Notes"), where + ".Notes");
  d.tls_skip_verify =
      as_bool(field(object, "TLSSkipVerify"), where + ".TLSSkipVerify");
  if (const auto* header = field(object, "Header");
      header != nullptr && !header->is_null()) {
    if (!header->is_object())
      type_mismatch(*header, where + ".Header", "map[string][]string");
    for (const auto& entry : header->get_object())
      d.header[std::string(entry.key())] =
          as_strings(&entry.value(), where + ".Header");
  }
  std::tie(d.interval, check.interval) = as_duration(field(object, "Interval"));
  std::tie(d.timeout, check.timeout) = as_duration(field(object, "Timeout"));
  std::tie(d.ttl, check.ttl) = as_duration(field(object, "TTL"));
  std::tie(d.deregister_critical_service_after, std::ignore) =
      as_duration(field(object, "DeregisterCriticalServiceAfter"));

  const bool script =
      !as_strings(field(object, "ScriptArgs"), where + ".ScriptArgs").empty() ||
      !as_strings(field(object, "Args"), where + ".Args").empty();
  const std::string grpc = as_string(field(object, "GRPC"), where + ".GRPC");
  const std::string udp = as_string(field(object, "UDP"), where + ".UDP");
  const std::string h2ping =
      as_string(field(object, "H2PING"), where + ".H2PING");
  check.alias =
      !as_string(field(object, "AliasService"), where + ".AliasService")
           .empty() ||
      !as_string(field(object, "AliasNode"), where + ".AliasNode").empty();
  check.interval_check = script || !d.http.empty() || !d.tcp.empty() ||
                         !grpc.empty() || !udp.empty() || !h2ping.empty();
  if (!d.http.empty())
    check.type = "http";
  else if (!d.tcp.empty())
    check.type = "tcp";
  else if (!grpc.empty())
    check.type = "grpc";
  else if (!udp.empty())
    check.type = "udp";
  else if (!h2ping.empty())
    check.type = "h2ping";
  else if (script)
    check.type = "script";
  else if (check.ttl > 0)
    check.type = "ttl";
  else if (check.alias)
    check.type = "alias";
  return check;
}

/// CheckType.Validate(), Consul 1.16's texts.
std::optional<std::string> invalid_check(const parsed_check& check) {
  if (check.interval > 0 && check.ttl > 0)
    return "Interval and TTL cannot both be specified";
  if (check.interval_check && check.interval <= 0)
    return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or "
           "OSService checks";
  if (check.interval_check && check.alias)
    return "Interval cannot be set for Alias checks";
  if (check.alias && check.ttl > 0)
    return "TTL must be not be set for Alias checks";
  if (!check.interval_check && !check.alias && check.ttl <= 0)
    return "TTL must be > 0 for TTL checks";
  return std::nullopt;
}

/// structs.ValidateServiceMetadata for a plain service, Consul's texts.
std::optional<std::string>
invalid_meta(const std::map<std::string, std::string>& meta) {
  if (meta.size() > 64)
    return "Node metadata cannot contain more than 64 key/value pairs";
  for (const auto& [key, value] : meta) {
    std::string problem;
    const bool key_chars_ok =
        !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                 c == '-';
        });
    if (key.empty())
      problem = "Key cannot be blank";
    else if (!key_chars_ok)
      problem = "Key contains invalid characters";
    else if (key.size() > 128)
      problem = "Key is too long (limit: 128 characters)";
    else if (starts_with(key, "consul-"))
      problem = "Key prefix 'consul-' is reserved for internal use";
    else if (value.size() > 512)
      problem = "Value is too long (limit: 512 characters)";
    if (!problem.empty())
      return "Couldn't load metadata pair ('" + key + "', '" + value +
             "'): " + problem;
  }
  return std::nullopt;
}

// --- the catalog ------------------------------------------------------------

struct check_state {
  consul_check check;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};

struct instance_state {
  consul_instance service; // node set; node_address unused (see node_state)
  std::vector<check_state> checks;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  bool builtin = false; // the "consul" service: not the agent's to remove
};

struct node_state {
  std::string name;
  std::string id;
  std::string address;
  check_state serf;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
};

bool same_service(const consul_instance& a, const consul_instance& b) {
  return a.id == b.id && a.name == b.name && a.tags == b.tags &&
         a.address == b.address && a.port == b.port && a.meta == b.meta &&
         a.weight_passing == b.weight_passing &&
         a.weight_warning == b.weight_warning &&
         a.enable_tag_override == b.enable_tag_override && a.node == b.node;
}

bool same_check(const consul_check& a, const consul_check& b) {
  return a.check_id == b.check_id && a.name == b.name && a.status == b.status &&
         a.output == b.output && a.type == b.type && a.notes == b.notes &&
         a.interval == b.interval && a.timeout == b.timeout &&
         a.http == b.http && a.service_id == b.service_id &&
         a.service_name == b.service_name;
}

/// A reply built under the lock and written out after it.
struct reply {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  bool drop = false;    // close the connection without an answer
  bool garbage = false; // cut the body in half
};

reply text_reply(int status, std::string text) {
  reply r;
  r.status = status;
  r.body = std::move(text);
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

reply dropped() {
  reply r;
  r.drop = true;
  return r;
}

enum class endpoint : uint8_t {
  catalog_services,
  health_service,
  agent_register,
  agent_deregister,
  agent_self,
  status_leader,
  unknown,
};

const std::string health_prefix = "/v1/health/service/";
const std::string deregister_prefix = "/v1/agent/service/deregister/";

endpoint route(const std::string& path) {
  if (path == "/v1/catalog/services")
    return endpoint::catalog_services;
  if (starts_with(path, health_prefix) && path.size() > health_prefix.size())
    return endpoint::health_service;
  if (path == "/v1/agent/service/register")
    return endpoint::agent_register;
  if (starts_with(path, deregister_prefix))
    return endpoint::agent_deregister;
  if (path == "/v1/agent/self")
    return endpoint::agent_self;
  if (path == "/v1/status/leader")
    return endpoint::status_leader;
  return endpoint::unknown;
}

bool is_write(endpoint e) {
  return e == endpoint::agent_register || e == endpoint::agent_deregister;
}

} // namespace

// --- the emulator -----------------------------------------------------------

struct consul_emulator::impl {
  explicit impl(consul_emulator_options options_in);

  consul_emulator_options options;

  mutable std::mutex mutex;
  std::condition_variable changed; // catalog, failure mode, stop
  mutable std::condition_variable blocked_changed;

  // The catalog (guarded by mutex).
  uint64_t index = 0;
  uint64_t services_index = 0;   // Consul's "services" table index
  uint64_t extinction_index = 0; // the last time a name lost its last instance
  std::map<std::string, uint64_t> service_index; // names with instances only
  std::map<std::string, node_state> nodes;
  std::map<std::string, instance_state> instances;

  // What the agent API received (guarded by mutex).
  std::vector<consul_service_registration> registrations;
  std::map<std::string, consul_service_registration> registered;
  std::vector<std::string> deregistrations;

  // Requests and misbehaviour (guarded by mutex).
  std::vector<consul_request> log;
  size_t blocked = 0;
  int failure_status = 0;
  std::string failure_body;
  std::set<std::string> garbage_prefixes;
  std::set<std::string> held_paths; // see set_hold()
  std::mt19937_64 random{std::random_device{}()};
  bool running = false;

  // The server. lifecycle serializes stop() and restart(); port is set
  // once, before any handler runs.
  std::mutex lifecycle;
  uint16_t port = 0;
  std::unique_ptr<httplib::Server> server;
  std::thread listener;

  // --- catalog changes (mutex held) ---

  node_state& ensure_node(const std::string& name, uint64_t at) {
    auto [it, added] = nodes.try_emplace(name);
    if (added) {
      auto& node = it->second;
      node.name = name;
      node.id = node_uuid(name, options.node_name);
      node.address = name == options.node_name ? options.node_address
                                               : std::string("127.0.0.1");
      node.create_index = node.modify_index = at;
      node.serf.check.check_id = "serfHealth";
      node.serf.check.name = "Serf Health Status";
      node.serf.check.status = "passing";
      node.serf.check.output = serf_output("passing");
      node.serf.check.type = "";
      node.serf.create_index = node.serf.modify_index = at;
    }
    return it->second;
  }

  void touch_services_on(const std::string& node, uint64_t at) {
    for (const auto& [id, instance] : instances)
      if (instance.service.node == node)
        service_index[instance.service.name] = at;
  }

  void lost_instance_of(const std::string& name, uint64_t at) {
    const bool any =
        std::any_of(instances.begin(), instances.end(), [&](const auto& entry) {
          return entry.second.service.name == name;
        });
    if (any) {
      service_index[name] = at;
    } else {
      service_index.erase(name);
      extinction_index = at;
    }
  }

  /// Stores `next` (node resolved, checks complete) in one raft index, or
  /// in none if nothing differs from what is stored.
  void store(consul_instance next, const std::string& node_address,
             bool builtin = false) {
    std::vector<consul_check> next_checks = std::move(next.checks);
    next.checks.clear();
    next.node_address.clear();
    const auto prev_it = instances.find(next.id);
    const instance_state* prev =
        prev_it == instances.end() ? nullptr : &prev_it->second;
    const auto node_it = nodes.find(next.node);
    const bool node_new = node_it == nodes.end();
    const bool address_changes = !node_new && !node_address.empty() &&
                                 node_it->second.address != node_address;
    const bool service_changes = !prev || !same_service(prev->service, next);
    bool checks_change = !prev || prev->checks.size() != next_checks.size();
    for (size_t i = 0; !checks_change && i < next_checks.size(); ++i)
      checks_change = !same_check(prev->checks[i].check, next_checks[i]);
    if (!node_new && !address_changes && !service_changes && !checks_change)
      return;

    const uint64_t at = ++index;
    auto& node = ensure_node(next.node, at);
    if (!node_address.empty() && node.address != node_address) {
      node.address = node_address;
      node.modify_index = at;
      touch_services_on(node.name, at);
    }
    instance_state state;
    state.builtin = builtin;
    state.create_index = prev ? prev->create_index : at;
    state.modify_index = service_changes ? at : prev->modify_index;
    for (auto& check : next_checks) {
      check_state cs;
      const check_state* old = nullptr;
      if (prev)
        for (const auto& candidate : prev->checks)
          if (candidate.check.check_id == check.check_id)
            old = &candidate;
      cs.create_index = old ? old->create_index : at;
      cs.modify_index = old && same_check(old->check, check) && !service_changes
                            ? old->modify_index
                            : at;
      cs.check = std::move(check);
      state.checks.push_back(std::move(cs));
    }
    const std::string old_name = prev ? prev->service.name : next.name;
    state.service = std::move(next);
    const std::string name = state.service.name;
    instances[state.service.id] = std::move(state);
    if (service_changes)
      services_index = at;
    service_index[name] = at;
    if (old_name != name)
      lost_instance_of(old_name, at);
    changed.notify_all();
  }

  bool remove(const std::string& id) {
    const auto it = instances.find(id);
    if (it == instances.end())
      return false;
    const uint64_t at = ++index;
    const std::string name = it->second.service.name;
    instances.erase(it);
    services_index = at;
    lost_instance_of(name, at);
    changed.notify_all();
    return true;
  }

  /// Checks sorted by ID, as Consul's checks table returns them; IDs and
  /// names defaulted as the agent defaults them.
  static std::vector<consul_check> complete_checks(const consul_instance& s) {
    std::vector<consul_check> checks = s.checks;
    for (size_t i = 0; i < checks.size(); ++i) {
      auto& check = checks[i];
      if (check.check_id.empty())
        check.check_id = "service:" + s.id +
                         (checks.size() > 1 ? ":" + std::to_string(i + 1) : "");
      if (check.name.empty())
        check.name = "Service '" + s.name + "' check";
      check.service_id = s.id;
      check.service_name = s.name;
    }
    std::sort(checks.begin(), checks.end(), [](const auto& a, const auto& b) {
      return a.check_id < b.check_id;
    });
    return checks;
  }

  uint64_t catalog_view() const {
    return std::max<uint64_t>(1, services_index);
  }

  uint64_t health_view(const std::string& name) const {
    const auto it = service_index.find(name);
    const uint64_t at = it != service_index.end() ? it->second
                        : extinction_index > 0    ? extinction_index
                                                  : index;
    return std::max<uint64_t>(1, at);
  }

  void reset_indexes(uint64_t at) {
    index = at;
    services_index = at;
    extinction_index = 0;
    for (auto& [name, value] : service_index)
      value = at;
    for (auto& [name, node] : nodes) {
      node.create_index = node.modify_index = at;
      node.serf.create_index = node.serf.modify_index = at;
    }
    for (auto& [id, instance] : instances) {
      instance.create_index = instance.modify_index = at;
      for (auto& check : instance.checks)
        check.create_index = check.modify_index = at;
    }
  }

  // --- JSON (mutex held) ---

  json::object node_json(const node_state& node) const {
    return json::object{
        {"ID", node.id},
        {"Node", node.name},
        {"Address", node.address},
        {"Datacenter", options.datacenter},
        {"TaggedAddresses",
         json::object{{"lan", node.address}, {"wan", node.address}}},
        {"Meta", json::object{{"consul-network-segment", ""}}},
        {"CreateIndex", node.create_index},
        {"ModifyIndex", node.modify_index},
    };
  }

  static json::array tags_json(const std::vector<std::string>& tags) {
    json::array array;
    for (const auto& tag : tags)
      array.emplace_back(tag);
    return array;
  }

  static json::object service_json(const instance_state& instance) {
    const auto& s = instance.service;
    json::object meta;
    for (const auto& [key, value] : s.meta)
      meta[key] = value;
    json::object service{
        {"ID", s.id},
        {"Service", s.name},
        {"Tags", tags_json(s.tags)},
        {"Address", s.address},
        {"TaggedAddresses", json::object{}},
        {"Meta", std::move(meta)},
    };
    // NodeService.Port is `json:",omitempty"`: a port-less instance has no
    // "Port" at all.
    if (s.port != 0)
      service["Port"] = s.port;
    service["Weights"] = json::object{{"Passing", s.weight_passing},
                                      {"Warning", s.weight_warning}};
    service["EnableTagOverride"] = s.enable_tag_override;
    service["Proxy"] = json::object{{"Mode", ""},
                                    {"MeshGateway", json::object{}},
                                    {"Expose", json::object{}}};
    service["Connect"] = json::object{};
    service["Namespace"] = "default";
    service["CreateIndex"] = instance.create_index;
    service["ModifyIndex"] = instance.modify_index;
    return service;
  }

  static json::object check_json(const check_state& state,
                                 const std::string& node,
                                 const std::vector<std::string>& tags) {
    const auto& c = state.check;
    return json::object{
        {"Node", node},
        {"CheckID", c.check_id},
        {"Name", c.name},
        {"Status", c.status},
        {"Notes", c.notes},
        {"Output", c.output},
        {"ServiceID", c.service_id},
        {"ServiceName", c.service_name},
        {"ServiceTags", tags_json(tags)},
        {"Type", c.type},
        {"Interval", c.interval},
        {"Timeout", c.timeout},
        {"ExposedPort", 0},
        {"Definition", json::object{}},
        {"Namespace", "default"},
        {"CreateIndex", state.create_index},
        {"ModifyIndex", state.modify_index},
    };
  }

  // --- requests ---

  void handle(const httplib::Request& request, httplib::Response& response) {
    reply r = answer(request);
    if (r.drop) {
      // Headers may already be gone if the socket is still open; the body
      // never comes, so the client sees a broken response, not an answer.
      response.status = 503;
      response.set_content_provider(
          1, "text/plain",
          [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    response.status = r.status;
    for (auto& [name, value] : r.headers)
      response.set_header(name, value);
    if (r.garbage && !r.body.empty())
      r.body.resize(std::max<size_t>(1, r.body.size() / 2));
    if (!r.body.empty() || !r.content_type.empty())
      response.set_content(r.body, r.content_type.c_str());
  }

  static std::string token_of(const httplib::Request& request) {
    // Consul's parseToken order; an empty value falls through.
    if (const auto query = request.get_param_value("token"); !query.empty())
      return query;
    if (const auto header = request.get_header_value("X-Consul-Token");
        !header.empty())
      return header;
    const std::string authorization = request.get_header_value("Authorization");
    if (starts_with(lowercase(authorization), "bearer "))
      return authorization.substr(7);
    return {};
  }

  reply failure_reply() const {
    std::string body = failure_body;
    if (body.empty())
      body = failure_status == 500 ? "rpc error making call: No cluster leader"
                                   : reason_phrase(failure_status);
    return text_reply(failure_status, body);
  }

  static reply permission_denied(const std::string& permission,
                                 const std::string& resource) {
    return text_reply(
        403, "Permission denied: anonymous token lacks permission '" +
                 permission + "' on \"" + resource +
                 "\". The anonymous token is used implicitly when a request "
                 "does not specify a token.");
  }

  reply answer(const httplib::Request& request) {
    std::unique_lock<std::mutex> lock{mutex};
    const auto query_at = request.target.find('?');
    log.push_back(consul_request{request.method, request.target,
                                 query_at == std::string::npos
                                     ? request.target
                                     : request.target.substr(0, query_at),
                                 request.get_header_value("X-Consul-Token"),
                                 std::chrono::steady_clock::now()});
    if (request.method == "GET" && !request.has_param("index") &&
        held_paths.count(request.path) > 0)
      changed.wait(lock, [&] {
        return !running || held_paths.count(request.path) == 0;
      });
    if (!running)
      return dropped();
    if (failure_status != 0)
      return failure_reply();

    const endpoint e = route(request.path);
    if (e == endpoint::unknown)
      return text_reply(404, "404 page not found");
    const char* allowed = is_write(e) ? "PUT" : "GET";
    if (request.method == "OPTIONS") {
      reply r;
      r.headers.emplace_back("Allow", std::string("OPTIONS,") + allowed);
      return r;
    }
    const bool method_ok =
        is_write(e) ? request.method == "PUT"
                    : request.method == "GET" || request.method == "HEAD";
    if (!method_ok) {
      auto r = text_reply(405, "method " + request.method + " not allowed");
      r.headers.emplace_back("Allow", std::string("OPTIONS,") + allowed);
      return r;
    }
    // The agent endpoints are the agent's own: Consul ignores ?dc there.
    const bool forwarded = e == endpoint::catalog_services ||
                           e == endpoint::health_service ||
                           e == endpoint::status_leader;
    if (forwarded && request.has_param("dc") &&
        !request.get_param_value("dc").empty() &&
        request.get_param_value("dc") != options.datacenter)
      return text_reply(500, "No path to datacenter");
    for (const char* unsupported : {"filter", "near", "node-meta"})
      if (request.has_param(unsupported))
        return text_reply(400, std::string("consul emulator: ?") + unsupported +
                                   " is not emulated");

    // /v1/status/* resolves no token in Consul.
    bool anonymous_filtered = false;
    if (!options.acl_token.empty() && e != endpoint::status_leader) {
      const std::string token = token_of(request);
      if (!token.empty() && token != options.acl_token)
        return text_reply(403, "ACL not found");
      if (token.empty()) {
        if (options.acl_filter_anonymous_reads &&
            (e == endpoint::catalog_services || e == endpoint::health_service))
          anonymous_filtered = true;
        else if (e == endpoint::agent_self)
          return permission_denied("agent:read", options.node_name);
        else if (e == endpoint::catalog_services)
          return permission_denied("service:read", "consul");
        else if (e == endpoint::health_service)
          return permission_denied("service:read",
                                   request.path.substr(health_prefix.size()));
        else if (e == endpoint::agent_deregister)
          return permission_denied(
              "service:write", request.path.substr(deregister_prefix.size()));
        else
          return permission_denied("service:write", "");
      }
    }

    switch (e) {
    case endpoint::catalog_services:
    case endpoint::health_service:
      return query(lock, request, e, anonymous_filtered);
    case endpoint::agent_register:
      return register_service(request);
    case endpoint::agent_deregister:
      return deregister_service(request.path.substr(deregister_prefix.size()));
    case endpoint::agent_self:
      return agent_self();
    case endpoint::status_leader: {
      reply r;
      r.body = json::serialize(json::value(options.node_address + ":8300"));
      r.content_type = "application/json";
      return r;
    }
    case endpoint::unknown:
      break;
    }
    return text_reply(404, "404 page not found");
  }

  /// A catalog or health read, blocking as Consul's blockingQuery does.
  reply query(std::unique_lock<std::mutex>& lock,
              const httplib::Request& request, endpoint e,
              bool anonymous_filtered) {
    const std::string name = e == endpoint::health_service
                                 ? request.path.substr(health_prefix.size())
                                 : std::string();
    uint64_t min_index = 0;
    if (request.has_param("index")) {
      const std::string text = request.get_param_value("index");
      char* end = nullptr;
      errno = 0;
      const auto parsed = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) ||
          *end != '\0' || errno == ERANGE)
        return text_reply(400, "Invalid index");
      min_index = parsed;
    }
    std::chrono::nanoseconds wait = options.default_wait;
    if (request.has_param("wait")) {
      std::string error;
      const auto parsed =
          parse_go_duration(request.get_param_value("wait"), error);
      if (!parsed)
        return text_reply(400, "Invalid wait time");
      if (*parsed > 0)
        wait = std::min<std::chrono::nanoseconds>(
            std::chrono::nanoseconds(*parsed), options.max_wait);
    }
    bool passing_only = false;
    if (e == endpoint::health_service && request.has_param("passing")) {
      const std::string text = request.get_param_value("passing");
      const auto parsed =
          text.empty() ? std::optional<bool>(true) : parse_go_bool(text);
      if (!parsed)
        return text_reply(400, "Invalid value for ?passing");
      passing_only = *parsed;
    }

    auto view = [&] {
      return e == endpoint::health_service ? health_view(name) : catalog_view();
    };
    if (min_index > 0 && view() <= min_index) {
      if (options.wait_jitter) {
        std::uniform_int_distribution<int64_t> spread(0, wait.count() / 16);
        wait += std::chrono::nanoseconds(spread(random));
      }
      const auto deadline = std::chrono::steady_clock::now() + wait;
      const int fd = connection_fd(request.remote_port);
      ++blocked;
      blocked_changed.notify_all();
      bool client_left = false;
      auto done = [&] {
        return !running || failure_status != 0 || view() > min_index;
      };
      // Slices only to notice a client that went away (its thread would
      // otherwise stay taken for the whole wait); changes wake us at once.
      while (!done() && std::chrono::steady_clock::now() < deadline) {
        changed.wait_until(
            lock, std::min(deadline, std::chrono::steady_clock::now() + 200ms),
            done);
        if (fd >= 0 && peer_closed(fd)) {
          client_left = true;
          break;
        }
      }
      --blocked;
      blocked_changed.notify_all();
      if (!running || client_left)
        return dropped();
      if (failure_status != 0)
        return failure_reply();
    }

    reply r;
    r.content_type = "application/json";
    r.headers = {{"X-Consul-Index", std::to_string(view())},
                 {"X-Consul-KnownLeader", "true"},
                 {"X-Consul-LastContact", "0"},
                 {"X-Consul-Effective-Consistency",
                  request.has_param("stale")        ? "stale"
                  : request.has_param("consistent") ? "consistent"
                                                    : "leader"},
                 {"X-Consul-Default-ACL-Policy",
                  options.acl_token.empty() ? "allow" : "deny"}};
    if (anonymous_filtered)
      r.headers.emplace_back("X-Consul-Results-Filtered-By-ACLs", "true");
    r.garbage = garbage_for(request.path);
    if (e == endpoint::catalog_services)
      r.body = anonymous_filtered ? "{}" : catalog_body();
    else
      r.body =
          anonymous_filtered ? "[]" : health_body(name, request, passing_only);
    return r;
  }

  bool garbage_for(const std::string& path) const {
    return std::any_of(
        garbage_prefixes.begin(), garbage_prefixes.end(),
        [&](const std::string& prefix) { return starts_with(path, prefix); });
  }

  /// The socket of the connection from `remote_port` (-1 if not found).
  int connection_fd(int remote_port) const {
    int found = -1;
    for_each_connection(port, [&](int fd, uint16_t peer_port) {
      if (peer_port == remote_port)
        found = fd;
    });
    return found;
  }

  std::string catalog_body() const {
    std::map<std::string, std::set<std::string>> names;
    for (const auto& [id, instance] : instances) {
      auto& tags = names[instance.service.name];
      tags.insert(instance.service.tags.begin(), instance.service.tags.end());
    }
    json::object body;
    for (const auto& [name, tags] : names) {
      json::array array;
      for (const auto& tag : tags)
        array.emplace_back(tag);
      body[name] = std::move(array);
    }
    return json::serialize(body);
  }

  std::string health_body(const std::string& name,
                          const httplib::Request& request,
                          bool passing_only) const {
    std::vector<std::string> wanted_tags;
    for (size_t i = 0; i < request.get_param_value_count("tag"); ++i)
      wanted_tags.push_back(lowercase(request.get_param_value("tag", i)));
    std::vector<const instance_state*> matches;
    for (const auto& [id, instance] : instances) {
      if (instance.service.name != name)
        continue;
      const bool tagged = std::all_of(
          wanted_tags.begin(), wanted_tags.end(), [&](const std::string& t) {
            return std::any_of(
                instance.service.tags.begin(), instance.service.tags.end(),
                [&](const std::string& have) { return lowercase(have) == t; });
          });
      if (tagged)
        matches.push_back(&instance);
    }
    std::sort(matches.begin(), matches.end(), [](auto* a, auto* b) {
      return std::tie(a->service.node, a->service.id) <
             std::tie(b->service.node, b->service.id);
    });
    json::array body;
    for (const auto* instance : matches) {
      const auto& node = nodes.at(instance->service.node);
      // Node checks first, then the instance's, as Consul lists them.
      json::array checks;
      bool all_passing = node.serf.check.status == "passing";
      checks.push_back(check_json(node.serf, node.name, {}));
      for (const auto& check : instance->checks) {
        all_passing = all_passing && check.check.status == "passing";
        checks.push_back(check_json(check, node.name, instance->service.tags));
      }
      if (passing_only && !all_passing)
        continue;
      body.push_back(json::object{{"Node", node_json(node)},
                                  {"Service", service_json(*instance)},
                                  {"Checks", std::move(checks)}});
    }
    return json::serialize(body);
  }

  reply agent_self() const {
    const auto& node = nodes.at(options.node_name);
    json::object body{
        {"Config", json::object{{"Datacenter", options.datacenter},
                                {"PrimaryDatacenter", options.datacenter},
                                {"NodeName", options.node_name},
                                {"NodeID", node.id},
                                {"Revision", "emulator"},
                                {"Server", true},
                                {"Version", "1.16.0"}}},
        {"Member",
         json::object{{"Name", options.node_name},
                      {"Addr", options.node_address},
                      {"Port", 8301},
                      {"Tags", json::object{{"dc", options.datacenter},
                                            {"role", "consul"}}},
                      {"Status", 1}}},
    };
    reply r;
    r.body = json::serialize(body);
    r.content_type = "application/json";
    r.garbage = garbage_for("/v1/agent/self");
    return r;
  }

  reply register_service(const httplib::Request& request) {
    consul_service_registration reg;
    std::vector<parsed_check> checks;
    try {
      if (request.body.empty())
        throw decode_error{"EOF"};
      json::error_code ec;
      const json::value body = json::parse(request.body, ec);
      if (ec)
        throw decode_error{ec.message()};
      if (!body.is_object())
        throw decode_error{"json: cannot unmarshal " +
                           std::string(json_kind(body)) +
                           " into Go value of type structs.ServiceDefinition"};
      const auto& o = body.get_object();
      const std::string where = "ServiceDefinition.";
      reg.name = as_string(field(o, "Name"), where + "Name");
      reg.id = as_string(field(o, "ID"), where + "ID");
      reg.tags = as_strings(field(o, "Tags"), where + "Tags");
      reg.address = as_string(field(o, "Address"), where + "Address");
      reg.port = static_cast<int>(as_int(field(o, "Port"), where + "Port"));
      reg.meta = as_string_map(field(o, "Meta"), where + "Meta");
      reg.enable_tag_override =
          as_bool(field(o, "EnableTagOverride"), where + "EnableTagOverride");
      if (const auto* weights = field(o, "Weights");
          weights != nullptr && !weights->is_null()) {
        if (!weights->is_object())
          type_mismatch(*weights, where + "Weights", "structs.Weights");
        reg.weights_sent = true;
        reg.weight_passing = static_cast<int>(
            as_int(field(weights->get_object(), "Passing"), "Weights.Passing"));
        reg.weight_warning = static_cast<int>(
            as_int(field(weights->get_object(), "Warning"), "Weights.Warning"));
      }
      if (const auto* check = field(o, "Check");
          check != nullptr && !check->is_null()) {
        auto parsed = parse_check(*check);
        reg.check = parsed.definition;
        if (!parsed.empty)
          checks.push_back(std::move(parsed));
      }
      if (const auto* list = field(o, "Checks");
          list != nullptr && !list->is_null()) {
        if (!list->is_array())
          type_mismatch(*list, where + "Checks", "structs.CheckTypes");
        for (const auto& item : list->get_array()) {
          auto parsed = parse_check(item);
          reg.checks.push_back(parsed.definition);
          if (!parsed.empty)
            checks.push_back(std::move(parsed));
        }
      }
    } catch (const decode_error& error) {
      return text_reply(400, "Request decode failed: " + error.text);
    }

    // AgentRegisterService's checks, in its order and with its texts.
    if (reg.name.empty())
      return text_reply(400, "Missing service name");
    if (reg.address == "0.0.0.0" || reg.address == "::" ||
        reg.address == "[::]")
      return text_reply(400, "Invalid service address");
    if (reg.weights_sent) {
      if (reg.weight_passing < 1)
        return text_reply(400,
                          "Invalid Weights: Passing must be greater than 0");
      if (reg.weight_warning < 0)
        return text_reply(
            400, "Invalid Weights: Warning must be greater or equal than 0");
      if (reg.weight_passing > 65535 || reg.weight_warning > 65535)
        return text_reply(
            400, "Invalid Weights: DNS Weight must be between 0 and 65535");
    } else {
      reg.weight_passing = reg.weight_warning = 1;
    }
    if (const auto problem = invalid_meta(reg.meta))
      return text_reply(400, "Invalid Service Meta: " + *problem);
    for (const auto& check : checks)
      if (const auto problem = invalid_check(check))
        return text_reply(400, "Invalid check: " + *problem);
    for (const auto& check : checks)
      if (!check.definition.status.empty() &&
          !valid_status(check.definition.status))
        return text_reply(
            400, "Status for checks must 'passing', 'warning', 'critical'");
    if (reg.id.empty())
      reg.id = reg.name;
    const auto replace = request.get_param_value("replace-existing-checks");
    reg.replace_existing_checks =
        request.has_param("replace-existing-checks") &&
        (replace.empty() || replace == "true");
    reg.token = token_of(request);
    reg.body = request.body;

    consul_instance next;
    next.id = reg.id;
    next.name = reg.name;
    next.tags = reg.tags;
    next.address = reg.address;
    next.port = reg.port;
    next.meta = reg.meta;
    next.weight_passing = reg.weight_passing;
    next.weight_warning = reg.weight_warning;
    next.enable_tag_override = reg.enable_tag_override;
    next.node = options.node_name;
    const auto prev_it = instances.find(reg.id);
    const instance_state* prev =
        prev_it != instances.end() &&
                prev_it->second.service.node == options.node_name
            ? &prev_it->second
            : nullptr;
    std::set<std::string> defined;
    for (size_t i = 0; i < checks.size(); ++i) {
      const auto& parsed = checks[i];
      consul_check check;
      check.check_id = parsed.definition.check_id;
      if (check.check_id.empty())
        check.check_id = "service:" + reg.id +
                         (checks.size() > 1 ? ":" + std::to_string(i + 1) : "");
      check.name = parsed.definition.name.empty()
                       ? "Service '" + reg.name + "' check"
                       : parsed.definition.name;
      // New checks start critical unless given a Status (Consul's default).
      check.status = parsed.definition.status.empty()
                         ? "critical"
                         : parsed.definition.status;
      check.type = parsed.type;
      check.notes = parsed.definition.notes;
      check.http = parsed.definition.http;
      if (parsed.interval != 0)
        check.interval = go_duration_string(parsed.interval);
      if (parsed.timeout != 0)
        check.timeout = go_duration_string(parsed.timeout);
      // A re-registration keeps a known check's status and output: Consul
      // restores them from its snapshot of the agent's checks.
      if (prev)
        for (const auto& old : prev->checks)
          if (old.check.check_id == check.check_id) {
            check.status = old.check.status;
            check.output = old.check.output;
          }
      defined.insert(check.check_id);
      next.checks.push_back(std::move(check));
    }
    // Without ?replace-existing-checks, checks missing from a
    // re-registration stay.
    if (prev && !reg.replace_existing_checks)
      for (const auto& old : prev->checks)
        if (defined.count(old.check.check_id) == 0)
          next.checks.push_back(old.check);
    next.checks = complete_checks(next);
    store(std::move(next), {});
    registrations.push_back(reg);
    registered[reg.id] = std::move(reg);
    return reply{};
  }

  reply deregister_service(const std::string& id) {
    const auto it = instances.find(id);
    if (it == instances.end() || it->second.builtin ||
        it->second.service.node != options.node_name)
      return text_reply(404, "Unknown service ID \"" + id +
                                 "\". Ensure that the service ID is passed, "
                                 "not the service name.");
    remove(id);
    registered.erase(id);
    deregistrations.push_back(id);
    return reply{};
  }

  // --- lifecycle ---

  void start() {
    auto next = std::make_unique<httplib::Server>();
    const size_t threads = std::max<size_t>(1, options.threads);
    next->new_task_queue = [threads] {
      return new httplib::ThreadPool(threads);
    };
    // Go's server: keep-alive without a request limit, Nagle off.
    next->set_keep_alive_max_count(std::numeric_limits<size_t>::max() / 2);
    next->set_keep_alive_timeout(30);
    next->set_tcp_nodelay(true);
    const auto handler = [this](const httplib::Request& request,
                                httplib::Response& response) {
      handle(request, response);
    };
    next->Get(".*", handler);
    next->Put(".*", handler);
    next->Post(".*", handler);
    next->Delete(".*", handler);
    next->Patch(".*", handler);
    next->Options(".*", handler);
    if (port == 0) {
      const int bound = next->bind_to_any_port("127.0.0.1");
      if (bound <= 0)
        throw std::runtime_error("consul_emulator: cannot bind 127.0.0.1");
      port = static_cast<uint16_t>(bound);
    } else if (!next->bind_to_port("127.0.0.1", port)) {
      throw std::runtime_error("consul_emulator: cannot bind 127.0.0.1:" +
                               std::to_string(port) + " again");
    }
    {
      std::lock_guard<std::mutex> guard{mutex};
      running = true;
    }
    server = std::move(next);
    listener = std::thread{[s = server.get()] { s->listen_after_bind(); }};
    // Server::stop() does nothing until the accept loop runs.
    while (!server->is_running())
      std::this_thread::sleep_for(1ms);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mutex};
      if (!running)
        return;
      running = false;
    }
    server->stop(); // closes the listener: connections are refused
    // Wakes idle keep-alive connections (so the pool can finish) and cuts
    // the ones in flight; blocked queries then see !running and drop.
    for_each_connection(port,
                        [](int fd, uint16_t) { ::shutdown(fd, SHUT_RDWR); });
    changed.notify_all();
    listener.join();
    server.reset();
  }
};

consul_emulator::impl::impl(consul_emulator_options options_in)
    : options(std::move(options_in)) {
  index = options.start_index;
  services_index = options.start_index;
  // The agent's node and the "consul" service a server agent registers.
  auto& node = ensure_node(options.node_name, index);
  node.address = options.node_address;
  consul_instance consul;
  consul.id = consul.name = "consul";
  consul.port = 8300;
  consul.node = options.node_name;
  consul.meta = {{"raft_version", "3"},
                 {"serf_protocol_current", "2"},
                 {"serf_protocol_max", "5"},
                 {"serf_protocol_min", "1"},
                 {"version", "1.16.0"}};
  instance_state state;
  state.service = consul;
  state.builtin = true;
  state.create_index = state.modify_index = index;
  instances["consul"] = std::move(state);
  service_index["consul"] = index;
}

// --- public API -------------------------------------------------------------

consul_emulator::consul_emulator(consul_emulator_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->start();
}

consul_emulator::~consul_emulator() {
  std::lock_guard<std::mutex> guard{impl_->lifecycle};
  impl_->stop();
}

uint16_t consul_emulator::port() const {
  return impl_->port;
}

std::string consul_emulator::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

const consul_emulator_options& consul_emulator::options() const {
  return impl_->options;
}

void consul_emulator::register_instance(consul_instance instance) {
  if (instance.name.empty())
    throw std::invalid_argument("consul_emulator: an instance needs a name");
  for (const auto& check : instance.checks)
    require_valid_status(check.status);
  if (instance.id.empty())
    instance.id = instance.name;
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (instance.node.empty())
    instance.node = impl_->options.node_name;
  instance.checks = impl::complete_checks(instance);
  const std::string node_address = instance.node_address;
  const std::string id = instance.id;
  impl_->store(std::move(instance), node_address);
  impl_->registered.erase(id);
}

bool consul_emulator::deregister_instance(const std::string& id) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->registered.erase(id);
  return impl_->remove(id);
}

void consul_emulator::set_check_status(const std::string& service_id,
                                       const std::string& status,
                                       const std::string& check_id,
                                       std::optional<std::string> output) {
  require_valid_status(status);
  std::lock_guard<std::mutex> guard{impl_->mutex};
  const auto it = impl_->instances.find(service_id);
  if (it == impl_->instances.end())
    throw std::out_of_range("consul_emulator: no instance " + service_id);
  auto& instance = it->second;
  bool found = false;
  std::vector<check_state*> changing;
  for (auto& state : instance.checks) {
    if (!check_id.empty() && state.check.check_id != check_id)
      continue;
    found = true;
    const std::string next_output = output ? *output
                                    : state.check.status == status
                                        ? state.check.output
                                        : default_output(state.check, status);
    if (state.check.status != status || state.check.output != next_output) {
      state.check.status = status;
      state.check.output = next_output;
      changing.push_back(&state);
    }
  }
  if (!check_id.empty() && !found)
    throw std::out_of_range("consul_emulator: instance " + service_id +
                            " has no check " + check_id);
  if (changing.empty())
    return;
  const uint64_t at = ++impl_->index;
  for (auto* state : changing)
    state->modify_index = at;
  impl_->service_index[instance.service.name] = at;
  impl_->changed.notify_all();
}

void consul_emulator::set_node_check_status(const std::string& node,
                                            const std::string& status) {
  require_valid_status(status);
  std::lock_guard<std::mutex> guard{impl_->mutex};
  const auto it = impl_->nodes.find(node);
  if (it == impl_->nodes.end())
    throw std::out_of_range("consul_emulator: no node " + node);
  auto& serf = it->second.serf;
  if (serf.check.status == status)
    return;
  const uint64_t at = ++impl_->index;
  serf.check.status = status;
  serf.check.output = serf_output(status);
  serf.modify_index = at;
  impl_->touch_services_on(node, at);
  impl_->changed.notify_all();
}

std::optional<consul_instance>
consul_emulator::instance(const std::string& id) const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  const auto it = impl_->instances.find(id);
  if (it == impl_->instances.end())
    return std::nullopt;
  consul_instance result = it->second.service;
  result.node_address = impl_->nodes.at(result.node).address;
  for (const auto& state : it->second.checks)
    result.checks.push_back(state.check);
  return result;
}

uint64_t consul_emulator::current_index() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->index;
}

uint64_t consul_emulator::catalog_index() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->catalog_view();
}

uint64_t consul_emulator::health_index(const std::string& name) const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->health_view(name);
}

std::vector<consul_service_registration>
consul_emulator::registrations() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->registrations;
}

std::optional<consul_service_registration>
consul_emulator::registered(const std::string& id) const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  const auto it = impl_->registered.find(id);
  if (it == impl_->registered.end())
    return std::nullopt;
  return it->second;
}

std::vector<std::string> consul_emulator::deregistrations() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->deregistrations;
}

std::vector<consul_request> consul_emulator::request_log() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->log;
}

size_t consul_emulator::request_count(const std::string& path_prefix) const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return static_cast<size_t>(std::count_if(
      impl_->log.begin(), impl_->log.end(), [&](const consul_request& r) {
        return starts_with(r.path, path_prefix);
      }));
}

size_t consul_emulator::blocked_queries() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->blocked;
}

bool consul_emulator::wait_for_blocked_queries(
    size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock{impl_->mutex};
  return impl_->blocked_changed.wait_for(
      lock, timeout, [&] { return impl_->blocked >= count; });
}

void consul_emulator::set_failure_mode(int http_status, std::string body) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->failure_status = http_status;
  impl_->failure_body = std::move(body);
  impl_->changed.notify_all();
}

void consul_emulator::set_garbage_mode(const std::string& path_prefix,
                                       bool on) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (on)
    impl_->garbage_prefixes.insert(path_prefix);
  else
    impl_->garbage_prefixes.erase(path_prefix);
}

void consul_emulator::set_hold(const std::string& path, bool on) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (on)
    impl_->held_paths.insert(path);
  else
    impl_->held_paths.erase(path);
  impl_->changed.notify_all();
}

void consul_emulator::stop() {
  std::lock_guard<std::mutex> guard{impl_->lifecycle};
  impl_->stop();
}

void consul_emulator::restart(std::optional<uint64_t> start_index) {
  std::lock_guard<std::mutex> guard{impl_->lifecycle};
  impl_->stop();
  if (start_index) {
    std::lock_guard<std::mutex> state_guard{impl_->mutex};
    impl_->reset_indexes(*start_index);
  }
  impl_->start();
}

bool consul_emulator::running() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->running;
}

} // namespace orasi::test
