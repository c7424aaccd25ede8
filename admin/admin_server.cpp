#include "admin/admin_server.hpp"

#include <boost/json.hpp>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <iomanip>
#include <mutex>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "admin/dashboard.hpp"
#include "admin/listing_cache.hpp"
#include "messages/errors.hpp"
#include "messages/json_codec.hpp"
#include "messages/registry_changes.hpp"
#include "runtime/service_discovery.hpp"

namespace json = boost::json;

namespace orasi {

namespace {

/// Answers with `body` as it is. cpp-httplib compresses a body given to
/// set_content() for every client that accepts br or gzip, with Brotli at
/// its slowest setting: for a big registry that costs the server far more
/// CPU than the request itself (bench/RESULTS.md, dashboard section). A
/// body from a provider of known length it sends uncompressed, and the
/// provider shares the (cached) body instead of copying it.
void send_body(httplib::Response& res, std::shared_ptr<const std::string> body,
               const char* content_type) {
  auto size = body->size();
  res.set_content_provider(size, content_type,
                           [body = std::move(body)](size_t offset,
                                                    size_t length,
                                                    httplib::DataSink& sink) {
                             return sink.write(body->data() + offset, length);
                           });
}

void send_json(httplib::Response& res, int status, const json::value& body,
               uint64_t version) {
  res.status = status;
  res.set_header("X-Orasi-Index", std::to_string(version));
  send_body(res,
            std::make_shared<const std::string>(json::serialize(body) + "\n"),
            "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& kind,
                const std::string& message, uint64_t version) {
  send_json(res, status, json::object{{"error", message}, {"kind", kind}},
            version);
}

/// Reads the query parameter `name` as a non-negative integer into `out`
/// (left alone when absent); false, with a 400 sent, when it is not one.
bool read_count_param(ServiceDiscovery& discovery, const httplib::Request& req,
                      const std::string& name, uint64_t& out,
                      httplib::Response& res) {
  try {
    if (req.has_param(name.c_str()))
      out = std::stoull(req.get_param_value(name.c_str()));
    return true;
  } catch (const std::exception&) {
    send_error(res, 400, "serialization",
               name + ": expected a non-negative integer",
               discovery.snapshot()->version);
    return false;
  }
}

void serve_healthz(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  bool running = false;
  try {
    running = discovery.is_running();
  } catch (const GatewayError&) {
    running = false;
  }
  json::object body{{"status", running ? "ok" : "unavailable"},
                    {"running", running},
                    {"version", snapshot->version},
                    {"stale", snapshot->stale},
                    {"services", snapshot->services.size()},
                    {"routable_services", snapshot->healthy.size()}};
  send_json(res, running ? 200 : 503, body, snapshot->version);
}

/// The health-check counters as JSON (a Prometheus rendering belongs to the
/// operator surface).
void serve_metrics(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  auto metrics = discovery.probe_metrics();
  json::object failed;
  for (const auto& [reason, count] : metrics.attempts_failed)
    failed[reason] = count;
  size_t endpoints = 0;
  for (const auto& [id, service] : snapshot->services)
    endpoints += service.endpoints.size();
  json::object probes{
      {"enabled", discovery.config().service_discovery.health_check.enabled},
      {"active_probes", metrics.active_probes},
      {"attempts_sent", metrics.attempts_sent},
      {"attempts_passed", metrics.attempts_passed},
      {"attempts_failed", std::move(failed)},
      {"checks_passed", metrics.checks_passed},
      {"checks_failed", metrics.checks_failed},
      {"checks_degraded", metrics.checks_degraded},
      {"transitions", metrics.transitions}};
  json::object registry{{"version", snapshot->version},
                        {"stale", snapshot->stale},
                        {"services", snapshot->services.size()},
                        {"endpoints", endpoints},
                        {"routable_services", snapshot->healthy.size()}};
  auto backend_metrics = discovery.backend_metrics();
  json::object backend{{"type", backend_metrics.backend},
                       {"stale", backend_metrics.stale},
                       {"unreadable_values", backend_metrics.unreadable_values},
                       {"reconnects", backend_metrics.reconnects},
                       {"relists", backend_metrics.relists},
                       {"lease_regrants", backend_metrics.lease_regrants},
                       {"limit_refusals", backend_metrics.limit_refusals}};
  send_json(res, 200,
            json::object{{"probes", std::move(probes)},
                         {"registry", std::move(registry)},
                         {"backend", std::move(backend)}},
            snapshot->version);
}

/// Answers with a listing's body for `snapshot`: built once per registry
/// version from per-service fragments (admin/listing_cache.hpp) and shared
/// by every reader of that version (snapshots are immutable, a large
/// registry's listing is costly to serialize, and pollers are many).
void send_listing(httplib::Response& res, listing_cache& cache,
                  const SnapshotPtr& snapshot) {
  res.status = 200;
  res.set_header("X-Orasi-Index", std::to_string(snapshot->version));
  send_body(res, cache.body(*snapshot), "application/json");
}

/// Versions a ?changes=1 watch may be behind and still get only changes.
constexpr size_t max_change_steps = 256;
/// How long after the last ?changes=1 watch the changes are recorded.
constexpr auto record_changes_for = std::chrono::minutes(1);

/// The watch's answer to a reader that holds an older version
/// (?changes=1): only the services that changed since, so that a dashboard
/// over a big registry is not sent, and does not parse, all of them for
/// each change. The ids changed at each version are recorded (an O(services)
/// comparison per version) only while such watches come.
struct change_cache {
  std::mutex mutex;
  std::condition_variable recorded; // a version was recorded in `log`
  registry_changes log{max_change_steps};
  std::chrono::steady_clock::time_point last_asked{};
  // The last answer: from `base` to `version`.
  uint64_t base = 0;
  uint64_t version = 0;
  std::shared_ptr<const std::string> body;
};

/// Whether ?changes=1 watches came lately (the log is kept up).
bool recording(const change_cache& cache) {
  return std::chrono::steady_clock::now() - cache.last_asked <
         record_changes_for;
}

/// Called with each new version, before the watches wake. The subscription
/// delivers versions in order but late: one the log already holds (a watch
/// caught up to it, or recording started from it) is skipped.
void remember_version(change_cache& cache, const SnapshotPtr& snapshot) {
  {
    std::lock_guard<std::mutex> guard{cache.mutex};
    if (!recording(cache))
      cache.log.clear(); // nobody asks: only the current version is known
    if (snapshot->version > cache.log.last_version())
      cache.log.record(snapshot);
  }
  cache.recorded.notify_all();
}

/// A watch asks for changes: record them from `current` on (the version
/// the server holds now, not the subscription's last delivered one).
void changes_wanted(change_cache& cache, const SnapshotPtr& current) {
  std::lock_guard<std::mutex> guard{cache.mutex};
  if (!recording(cache) && current->version > cache.log.last_version()) {
    cache.log.clear();
    cache.log.record(current);
  }
  cache.last_asked = std::chrono::steady_clock::now();
}

/// How long a ?changes=1 watch waits for the subscription to record the
/// versions before the one it answers with.
constexpr auto catch_up_wait = std::chrono::seconds(1);

/// Brings the log to `latest`: the subscription records each version, but
/// may not have reached the one a reader holds (the facade publishes before
/// it notifies, and a write is answered after publishing). One version
/// behind, `latest` carries its own changes; further behind, wait for the
/// subscription. False if the log does not reach it.
bool catch_up(change_cache& cache, std::unique_lock<std::mutex>& lock,
              const SnapshotPtr& latest) {
  cache.recorded.wait_for(lock, catch_up_wait, [&] {
    return cache.log.last_version() + 1 >= latest->version;
  });
  if (cache.log.last_version() + 1 == latest->version)
    cache.log.record(latest);
  return cache.log.last_version() == latest->version;
}

/// {"version", "stale", "base", "changed": {"<id>": ServiceInfo},
/// "removed": ["<id>"]} from version `index` to `latest`, or null if a
/// step in between is not known (the caller sends everything).
std::shared_ptr<const std::string>
changes_since(change_cache& cache, uint64_t index, const SnapshotPtr& latest) {
  std::unique_lock<std::mutex> lock{cache.mutex};
  if (cache.body && cache.base == index && cache.version == latest->version)
    return cache.body;
  if (!catch_up(cache, lock, latest))
    return nullptr;
  auto ids = cache.log.since(index);
  if (!ids)
    return nullptr;
  json::object changed;
  json::array removed;
  for (const auto& id : *ids) {
    auto service = latest->services.find(id);
    if (service == latest->services.end())
      removed.emplace_back(id);
    else
      changed[id] = to_json(service->second);
  }
  cache.base = index;
  cache.version = latest->version;
  cache.body = std::make_shared<const std::string>(
      json::serialize(json::object{{"version", latest->version},
                                   {"stale", latest->stale},
                                   {"base", index},
                                   {"changed", std::move(changed)},
                                   {"removed", std::move(removed)}}) +
      "\n");
  return cache.body;
}

void send_changes(httplib::Response& res,
                  std::shared_ptr<const std::string> body, uint64_t version) {
  res.set_header("X-Orasi-Index", std::to_string(version));
  send_body(res, std::move(body), "application/json");
}

/// Request bodies above this answer 413 (a ServiceInfo is a few KiB).
constexpr size_t max_body_bytes = 1024 * 1024;
/// Server threads: each waiting watch holds one.
constexpr size_t watch_threads = 64;
/// Watches waiting at once; more answer 429, so that waiting watches never
/// hold every server thread (writes and /healthz must still get one).
constexpr int max_waiting_watches = 32;
/// A watch waits at most this long, whatever it asks for.
constexpr auto max_watch_wait = std::chrono::minutes(5);

void serve_readyz(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  // Ready once the first backend listing is published.
  bool ready = snapshot->version > 0;
  send_json(res, ready ? 200 : 503,
            json::object{{"ready", ready}, {"version", snapshot->version}},
            snapshot->version);
}

/// One Prometheus sample line.
void sample(std::ostringstream& out, const std::string& name,
            const std::string& labels, uint64_t value) {
  out << name;
  if (!labels.empty())
    out << '{' << labels << '}';
  out << ' ' << value << '\n';
}

void describe(std::ostringstream& out, const std::string& name,
              const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type
      << '\n';
}

void serve_prometheus(ServiceDiscovery& discovery, httplib::Response& res) {
  auto snapshot = discovery.snapshot();
  auto probes = discovery.probe_metrics();
  auto backend = discovery.backend_metrics();
  std::map<std::string, uint64_t> endpoints_by_state;
  for (auto state : {"Healthy", "Unhealthy", "Unknown"})
    endpoints_by_state[state] = 0;
  for (const auto& [id, service] : snapshot->services)
    for (const auto& endpoint : service.endpoints)
      ++endpoints_by_state[to_string(endpoint.health_status)];
  std::ostringstream out;
  describe(out, "orasi_registry_version", "gauge",
           "Version of the published registry snapshot.");
  sample(out, "orasi_registry_version", "", snapshot->version);
  describe(out, "orasi_services", "gauge", "Known services.");
  sample(out, "orasi_services", "", snapshot->services.size());
  describe(out, "orasi_routable_services", "gauge",
           "Services with at least one Healthy endpoint.");
  sample(out, "orasi_routable_services", "", snapshot->healthy.size());
  describe(out, "orasi_endpoints", "gauge", "Endpoints by health state.");
  for (const auto& [state, count] : endpoints_by_state)
    sample(out, "orasi_endpoints", "state=\"" + state + "\"", count);
  describe(out, "orasi_probe_attempts_total", "counter",
           "HTTP probe attempts by result and failure reason.");
  sample(out, "orasi_probe_attempts_total", "result=\"passed\"",
         probes.attempts_passed);
  for (const auto& [reason, count] : probes.attempts_failed)
    sample(out, "orasi_probe_attempts_total",
           "result=\"failed\",reason=\"" + reason + "\"", count);
  describe(out, "orasi_probe_checks_total", "counter",
           "Checks (1 + retries attempts) by result.");
  sample(out, "orasi_probe_checks_total", "result=\"passed\"",
         probes.checks_passed);
  sample(out, "orasi_probe_checks_total", "result=\"failed\"",
         probes.checks_failed);
  sample(out, "orasi_probe_checks_total", "result=\"degraded\"",
         probes.checks_degraded);
  describe(out, "orasi_endpoint_transitions_total", "counter",
           "Endpoint health state changes.");
  sample(out, "orasi_endpoint_transitions_total", "", probes.transitions);
  describe(out, "orasi_probe_check_duration_seconds", "histogram",
           "Time from a check's first attempt to its outcome.");
  for (const auto& [bound, count] : probes.latency_buckets) {
    std::ostringstream le;
    if (std::isinf(bound))
      le << "+Inf";
    else
      le << bound;
    sample(out, "orasi_probe_check_duration_seconds_bucket",
           "le=\"" + le.str() + "\"", count);
  }
  out << "orasi_probe_check_duration_seconds_sum " << std::setprecision(17)
      << probes.latency_sum_seconds << '\n';
  sample(out, "orasi_probe_check_duration_seconds_count", "",
         probes.latency_count);
  describe(out, "orasi_active_probes", "gauge", "Endpoints being probed.");
  sample(out, "orasi_active_probes", "", probes.active_probes);
  auto type = "backend=\"" + backend.backend + "\"";
  describe(out, "orasi_backend_up", "gauge",
           "1 while the backend answers; 0 while last-known data is served.");
  sample(out, "orasi_backend_up", type, backend.stale ? 0 : 1);
  describe(out, "orasi_backend_unreadable_values_total", "counter",
           "Backend values skipped because they do not parse.");
  sample(out, "orasi_backend_unreadable_values_total", type,
         backend.unreadable_values);
  describe(out, "orasi_backend_watch_reconnects_total", "counter",
           "Watch streams / blocking loops re-established.");
  sample(out, "orasi_backend_watch_reconnects_total", type, backend.reconnects);
  describe(out, "orasi_backend_relists_total", "counter",
           "Full re-lists after a broken watch (etcd), index resets (Consul).");
  sample(out, "orasi_backend_relists_total", type, backend.relists);
  describe(out, "orasi_backend_lease_regrants_total", "counter",
           "Registrations redone after a lost lease (etcd).");
  sample(out, "orasi_backend_lease_regrants_total", type,
         backend.lease_regrants);
  describe(out, "orasi_backend_limit_refusals_total", "counter",
           "Listings and changes refused by service_discovery.limits.");
  sample(out, "orasi_backend_limit_refusals_total", type,
         backend.limit_refusals);
  res.set_header("X-Orasi-Index", std::to_string(snapshot->version));
  send_body(res, std::make_shared<const std::string>(out.str()),
            "text/plain; version=0.0.4");
}

int64_t epoch_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             at.time_since_epoch())
      .count();
}

json::object last_check_json(const ProbeResult& result) {
  return json::object{{"passed", result.passed},
                      {"status", result.status_code},
                      {"latency_ms", result.latency.count() / 1000.0},
                      {"reason", result.reason},
                      {"degraded", result.degraded},
                      {"checked_at_ms", epoch_ms(result.at)}};
}

/// One check of an endpoint's ring: {"at_ms", "latency_ms", "result",
/// "status", "failure"} ("failure" only when it failed).
json::object sample_json(const CheckSample& sample) {
  json::object out{{"at_ms", sample.at_ms},
                   {"latency_ms", sample.latency_us / 1000.0},
                   {"result", to_string(sample.verdict)},
                   {"status", sample.status_code}};
  if (sample.verdict == check_verdict::failed)
    out["failure"] = to_string(sample.failure);
  return out;
}

/// GET /v1/probes: {"<id>": {"<url>": {"passed", "status", "latency_ms",
/// "reason", "degraded", "checked_at_ms"}}}, the last check of every probed
/// endpoint. With ?service=<id> (repeatable) only those services, and each
/// endpoint adds "recent": its last checks, oldest first.
void serve_probes(ServiceDiscovery& discovery, const httplib::Request& req,
                  httplib::Response& res) {
  json::object body;
  auto selected = req.get_param_value_count("service");
  if (selected == 0) {
    for (const auto& [id, endpoints] : discovery.probe_results()) {
      json::object by_url;
      for (const auto& [url, result] : endpoints)
        by_url[url] = last_check_json(result);
      body[id] = std::move(by_url);
    }
    return send_json(res, 200, body, discovery.snapshot()->version);
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < selected; ++i)
    ids.push_back(req.get_param_value("service", i));
  for (const auto& [id, endpoints] : discovery.probe_history(ids)) {
    json::object by_url;
    for (const auto& [url, history] : endpoints) {
      auto endpoint = last_check_json(history.last);
      json::array recent;
      recent.reserve(history.recent.size());
      for (const auto& sample : history.recent)
        recent.push_back(sample_json(sample));
      endpoint["recent"] = std::move(recent);
      by_url[url] = std::move(endpoint);
    }
    body[id] = std::move(by_url);
  }
  send_json(res, 200, body, discovery.snapshot()->version);
}

/// GET /v1/transitions[?since=N]: {"capacity", "transitions": [{"seq",
/// "at_ms", "service", "url", "from", "to", "reason"}]}, oldest first, the
/// endpoint state changes after sequence number N.
void serve_transitions(ServiceDiscovery& discovery, const httplib::Request& req,
                       httplib::Response& res) {
  uint64_t since = 0;
  if (!read_count_param(discovery, req, "since", since, res))
    return;
  json::array transitions;
  for (const auto& change : discovery.recent_transitions(since))
    transitions.push_back(json::object{{"seq", change.sequence},
                                       {"at_ms", epoch_ms(change.at)},
                                       {"service", change.service_id},
                                       {"url", change.endpoint_url},
                                       {"from", to_string(change.from)},
                                       {"to", to_string(change.to)},
                                       {"reason", change.reason}});
  send_json(res, 200,
            json::object{{"capacity", transitions_kept},
                         {"transitions", std::move(transitions)}},
            discovery.snapshot()->version);
}

/// Whether the request carries the configured bearer token. The compare
/// takes the same time wherever the first difference is.
using digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

digest sha256(const std::string& text) {
  digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         out.data());
  return out;
}

/// Whether the request carries the configured bearer token. Digests of
/// equal size are compared in constant time, so neither the position of a
/// difference nor the token's length shows in the response time.
bool authorized(const httplib::Request& req, const std::string& token) {
  if (token.empty())
    return true;
  auto header = req.get_header_value("Authorization");
  const std::string scheme = "Bearer ";
  auto given = header.compare(0, scheme.size(), scheme) == 0
                   ? header.substr(scheme.size())
                   : std::string{};
  auto expected = sha256(token);
  auto offered = sha256(given);
  return CRYPTO_memcmp(expected.data(), offered.data(), expected.size()) == 0;
}

/// The HTTP status for a facade error.
int status_of(errc kind) {
  switch (kind) {
  case errc::not_found:
    return 404;
  case errc::serialization:
  case errc::config_invalid:
  case errc::backend_rejected:
    return 400;
  case errc::timeout:
    return 504;
  case errc::backend_unavailable:
  case errc::not_running:
    return 503;
  }
  return 500;
}

/// Runs a write (register, deregister) and answers {"id", "version"}, or
/// the facade's error with its status.
template <class Write>
void answer_write(ServiceDiscovery& discovery, const std::string& id,
                  httplib::Response& res, Write write) {
  try {
    write();
  } catch (const GatewayError& err) {
    return send_error(res, status_of(err.kind()), to_string(err.kind()),
                      err.message(), discovery.snapshot()->version);
  }
  auto version = discovery.snapshot()->version;
  send_json(res, 200, json::object{{"id", id}, {"version", version}}, version);
}

} // namespace

struct AdminServer::routes {
  httplib::Server http;
  // The big reads, serialized once per registry version, per service.
  listing_cache all_services{services_listing()};
  listing_cache routable_services{routable_listing()};
  listing_cache watch_body{watch_listing()};
  change_cache watch_changes;
  // Watchers wait here for a new version (a subscription notifies).
  std::mutex version_mutex;
  std::condition_variable version_changed;
  bool stopping = false; // guarded by version_mutex
  std::atomic<int> waiting_watches{0};
  Subscription subscription;
};

AdminServer::AdminServer(ServiceDiscovery& discovery, std::string listen,
                         std::string token)
    : discovery_(discovery),
      listen_(std::move(listen)),
      token_(std::move(token)) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::add_write_routes() {
  auto& http = server_->http;
  auto& discovery = discovery_;
  const auto& token = token_;
  auto refuse = [&discovery](httplib::Response& res) {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "unauthorized",
               "this admin API needs \"Authorization: Bearer <token>\" "
               "for writes",
               discovery.snapshot()->version);
  };
  http.Put("/v1/services/([^/]+)", [&discovery, &token,
                                    refuse](const httplib::Request& req,
                                            httplib::Response& res) {
    if (!authorized(req, token))
      return refuse(res);
    auto id = req.matches[1].str();
    auto info = decode_service(std::string_view{req.body}, "body",
                               unknown_fields::reject);
    if (!info)
      return send_error(res, 400, "serialization", error_message(info.error()),
                        discovery.snapshot()->version);
    answer_write(discovery, id, res,
                 [&] { discovery.register_service(id, *info); });
  });
  http.Delete("/v1/services/([^/]+)", [&discovery, &token,
                                       refuse](const httplib::Request& req,
                                               httplib::Response& res) {
    if (!authorized(req, token))
      return refuse(res);
    auto id = req.matches[1].str();
    answer_write(discovery, id, res, [&] { discovery.deregister_service(id); });
  });
}

void AdminServer::add_watch_route() {
  auto& routes = *server_;
  // Every new version wakes the waiting watches.
  routes.subscription =
      discovery_.subscribe([&routes](const SnapshotPtr& snapshot) {
        remember_version(routes.watch_changes, snapshot);
        std::lock_guard<std::mutex> guard{routes.version_mutex};
        routes.version_changed.notify_all();
      });
  auto& discovery = discovery_;
  routes.http.Get(
      "/v1/watch", [&discovery, &routes](const httplib::Request& req,
                                         httplib::Response& res) {
        uint64_t index = 0;
        auto wait = std::chrono::milliseconds(std::chrono::seconds(30));
        if (!read_count_param(discovery, req, "index", index, res))
          return;
        if (req.has_param("wait")) {
          auto parsed = parse_duration(req.get_param_value("wait"));
          if (!parsed || parsed->count() < 0)
            return send_error(res, 400, "serialization",
                              "wait: expected a duration like \"30s\"",
                              discovery.snapshot()->version);
          wait = std::min<std::chrono::milliseconds>(*parsed, max_watch_wait);
        }
        bool changes = req.get_param_value("changes") == "1";
        if (changes)
          changes_wanted(routes.watch_changes, discovery.snapshot());
        if (discovery.snapshot()->version <= index) {
          if (++routes.waiting_watches > max_waiting_watches) {
            --routes.waiting_watches;
            res.set_header("Retry-After", "1");
            return send_error(res, 429, "too_many_watches",
                              "too many watches waiting, retry in a second",
                              discovery.snapshot()->version);
          }
          std::unique_lock<std::mutex> lock{routes.version_mutex};
          routes.version_changed.wait_for(lock, wait, [&] {
            return routes.stopping || discovery.snapshot()->version > index;
          });
          --routes.waiting_watches;
        }
        auto latest = discovery.snapshot();
        if (changes && index > 0)
          if (auto body = changes_since(routes.watch_changes, index, latest))
            return send_changes(res, std::move(body), latest->version);
        // Every watcher woken by one version gets the same body: serialize
        // it once (the stale flag changes only with a new version).
        send_listing(res, routes.watch_body, latest);
      });
}

void AdminServer::start() {
  std::string host;
  if (!parse_listen_address(listen_, host, port_))
    throw GatewayError{errc::config_invalid,
                       "admin.listen: \"" + listen_ + "\" is not host:port"};
  server_ = std::make_unique<routes>();
  auto& http = server_->http;
  auto& discovery = discovery_;
  auto& caches = *server_;
  http.Get("/v1/services", [&discovery, &caches](const httplib::Request&,
                                                 httplib::Response& res) {
    auto snapshot = discovery.snapshot();
    send_listing(res, caches.all_services, snapshot);
  });
  http.Get("/v1/services/([^/]+)", [&discovery](const httplib::Request& req,
                                                httplib::Response& res) {
    auto snapshot = discovery.snapshot();
    auto id = req.matches[1].str();
    auto service = snapshot->services.find(id);
    if (service == snapshot->services.end())
      return send_error(res, 404, "not_found",
                        "service \"" + id + "\" not found", snapshot->version);
    send_json(res, 200, to_json(service->second), snapshot->version);
  });
  http.Get(
      "/v1/health/services",
      [&discovery, &caches](const httplib::Request&, httplib::Response& res) {
        auto snapshot = discovery.snapshot();
        send_listing(res, caches.routable_services, snapshot);
      });
  // Reads that need nothing from the request.
  using reader = void (*)(ServiceDiscovery&, httplib::Response&);
  for (auto [path, serve] :
       {std::pair<const char*, reader>{"/v1/metrics", serve_metrics},
        {"/healthz", serve_healthz},
        {"/metrics", serve_prometheus},
        {"/readyz", serve_readyz}})
    http.Get(path, [&discovery, serve = serve](const httplib::Request&,
                                               httplib::Response& res) {
      serve(discovery, res);
    });
  // Reads with query parameters.
  using query_reader =
      void (*)(ServiceDiscovery&, const httplib::Request&, httplib::Response&);
  for (auto [path, serve] :
       {std::pair<const char*, query_reader>{"/v1/probes", serve_probes},
        {"/v1/transitions", serve_transitions}})
    http.Get(path, [&discovery, serve = serve](const httplib::Request& req,
                                               httplib::Response& res) {
      serve(discovery, req, res);
    });
  add_dashboard_routes(http);
  add_write_routes();
  add_watch_route();
  auto method_not_allowed = [&discovery](const httplib::Request& req,
                                         httplib::Response& res) {
    bool service = req.path.rfind("/v1/services/", 0) == 0;
    res.set_header("Allow", service ? "GET, PUT, DELETE" : "GET");
    send_error(res, 405, "method_not_allowed",
               req.method + " is not supported on " + req.path,
               discovery.snapshot()->version);
  };
  http.Post(".*", method_not_allowed);
  http.Put(".*", method_not_allowed);
  http.Delete(".*", method_not_allowed);
  http.Patch(".*", method_not_allowed);
  http.set_error_handler(
      [&discovery](const httplib::Request& req, httplib::Response& res) {
        if (res.has_header("X-Orasi-Index"))
          return; // our own error body
        send_error(res, res.status, res.status == 404 ? "not_found" : "error",
                   "no route for " + req.method + " " + req.path,
                   discovery.snapshot()->version);
      });
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // launcher share our port silently; SO_REUSEADDR alone allows quick
  // restarts but makes "address in use" a startup error, as it should be.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // httplib writes an answer's headers and body in two sends: with Nagle on
  // (httplib's default) the body waits for the client's delayed ACK on every
  // small answer of a kept-alive connection (/healthz, a woken /v1/watch).
  // Answers are written whole: nothing gains from Nagle.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(std::chrono::seconds(5));
  // stop() waits for idle keep-alive connections (our own probes keep one
  // to /healthz open): a short idle timeout keeps shutdown prompt.
  http.set_keep_alive_timeout(1);
  // httplib closes a connection after 5 requests by default, and its listen
  // backlog is 5: busy clients reconnecting overflow it, and a dropped SYN
  // costs a 1 s retransmit (p99 0.8 s under wrk). Keep connections longer.
  http.set_keep_alive_max_count(10000);
  http.set_write_timeout(std::chrono::seconds(5));
  // Bigger bodies answer 413 before they are read in full.
  http.set_payload_max_length(max_body_bytes);
  // Watches hold a thread each while they wait.
  http.new_task_queue = [] { return new httplib::ThreadPool(watch_threads); };
  if (port_ == 0) {
    auto bound = http.bind_to_any_port(host);
    if (bound < 0)
      throw GatewayError{errc::config_invalid,
                         "admin.listen: cannot bind " + listen_};
    port_ = static_cast<uint16_t>(bound);
  } else if (!http.bind_to_port(host, port_)) {
    throw GatewayError{errc::config_invalid,
                       "admin.listen: cannot bind " + listen_ +
                           " (address in use or not local?)"};
  }
  auto loop_ended = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread{[this, loop_ended] {
    server_->http.listen_after_bind();
    *loop_ended = true;
  }};
  // httplib's stop() is a no-op until the loop runs: wait for it, so that a
  // stop() right after start() cannot leave the thread listening forever.
  while (!server_->http.is_running() && !*loop_ended)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("admin API listening on http://{}:{}", host, port_);
  if (token_.empty() && host != "127.0.0.1" && host != "::1" &&
      host != "localhost")
    spdlog::warn("admin API: writes (PUT, DELETE) are open to anyone who "
                 "reaches {}; set admin.token",
                 listen_);
}

void AdminServer::stop() {
  if (!server_)
    return;
  server_->subscription.unsubscribe();
  {
    // Wake watches so that the server's threads can finish.
    std::lock_guard<std::mutex> guard{server_->version_mutex};
    server_->stopping = true;
  }
  server_->version_changed.notify_all();
  server_->http.stop();
  if (thread_.joinable())
    thread_.join();
  server_.reset();
}

} // namespace orasi
