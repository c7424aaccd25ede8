// An EMULATOR of a Consul agent's HTTP API, not Consul: Consul cannot be
// installed on our build machines, so the Consul backend is tested against
// this stand-in. It keeps an in-memory catalog and answers the endpoints the
// backend uses as Consul's documentation (and source) says they answer:
//
//   GET /v1/catalog/services          GET /v1/health/service/<name>
//   PUT /v1/agent/service/register    PUT /v1/agent/service/deregister/<id>
//   GET /v1/agent/self                GET /v1/status/leader
//
// with Consul's blocking queries (?index=&wait=), raft indexes kept per view
// as Consul keeps them, ?dc=, ACL tokens, and Consul's status codes and
// error texts. Anything else answers 404, and query parameters it does not
// emulate (?filter=, ?near=, ?node-meta=) answer 400 rather than being
// silently ignored. It never runs health checks: tests set check states
// with the hooks below. On top of that it misbehaves on demand (a 500
// storm, truncated JSON, an agent that is down or restarted with a lower
// index) so that clients can be tested against what a real cluster does.
//
// Index semantics (as Consul's state store):
//  - every change that really changes something takes the next raft index;
//    a write identical to what is stored takes none;
//  - /v1/catalog/services answers the index of the last write to any
//    service instance (register, re-register with a difference,
//    deregister); check status changes do not move it;
//  - /v1/health/service/<name> answers the index of the last change to an
//    instance of <name>, to one of their checks, or to a node they run on
//    (its address, its serfHealth check). For a name with no instance it
//    answers the index of the last time any service lost its last instance
//    (or the current index if none ever did), so that a query blocked on a
//    missing service wakes when it appears;
//  - indexes are never below 1; a blocking query with index=N returns as
//    soon as its view's index is above N, else after `wait` (+ up to
//    wait/16 of jitter), with the current data either way. If the index
//    went backwards (restart() with a lower index), a query blocked on the
//    old, higher index waits its full `wait`: resetting is the client's job.
//
// Consul behaviours a client may not expect, all emulated:
//  - a registered check starts "critical" unless it has a "Status"; a
//    re-registration keeps the status and output of a check it already
//    has (Consul restores them), and keeps checks it no longer lists
//    unless ?replace-existing-checks;
//  - Meta keys must match [A-Za-z0-9_-]+, be at most 128 characters and
//    not start with "consul-"; values at most 512; at most 64 pairs;
//    durations need a unit ("10s", not "10"); else 400, Consul's text;
//  - an instance with port 0 has no "Service.Port" at all (omitempty).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace orasi::test {

struct consul_emulator_options {
  std::string datacenter = "dc1";
  /// Empty: ACLs are off and tokens are ignored. Otherwise a request
  /// (except /v1/status/leader, which Consul does not guard) must carry
  /// this token in X-Consul-Token, "Authorization: Bearer" or ?token=:
  /// another token answers 403 "ACL not found", none answers 403
  /// "Permission denied: anonymous token lacks permission ...".
  std::string acl_token;
  /// With acl_token set, reads without a token answer 200 with empty
  /// results and X-Consul-Results-Filtered-By-ACLs: true, as a real Consul
  /// with default_policy "deny" does, instead of 403.
  bool acl_filter_anonymous_reads = false;
  /// The first X-Consul-Index (and the index the initial catalog, the
  /// agent's node and the "consul" service, was written at).
  uint64_t start_index = 1;
  std::string node_name = "node1";
  std::string node_address = "127.0.0.1";
  /// `wait` of a blocking query is capped at this (Consul: 10 min) and
  /// defaults to default_wait when absent or not positive (Consul: 5 min).
  std::chrono::milliseconds max_wait = std::chrono::minutes(10);
  std::chrono::milliseconds default_wait = std::chrono::minutes(5);
  /// Adds up to wait/16 to each blocking query's wait, as Consul does.
  bool wait_jitter = true;
  /// cpp-httplib's pool: each blocked query holds one thread.
  size_t threads = 32;
};

/// One health check of an instance.
struct consul_check {
  std::string check_id; // default "service:<id>" (":<k>" when several)
  std::string name;     // default "Service '<name>' check"
  std::string status = "passing"; // "passing", "warning" or "critical"
  std::string output;
  std::string type = "http"; // "http", "tcp", "ttl", ...
  std::string notes;
  std::string interval; // e.g. "10s" (Go duration syntax), may be empty
  std::string timeout;
  std::string http;       // the URL of an HTTP check (used for default outputs)
  std::string service_id; // set by the emulator
  std::string service_name; // set by the emulator
};

/// One service instance of the catalog.
struct consul_instance {
  std::string id; // default: name. Unique across the emulator's nodes.
  std::string name;
  std::vector<std::string> tags;
  std::string address; // empty: clients fall back to the node's address
  int port = 0;
  std::map<std::string, std::string> meta;
  int weight_passing = 1;
  int weight_warning = 1;
  bool enable_tag_override = false;
  /// Empty: the agent's own node (options.node_name).
  std::string node;
  /// Empty: the node keeps its address (a new node gets "127.0.0.1").
  /// Otherwise the node's address is set (a change to the node).
  std::string node_address;
  std::vector<consul_check> checks;
};

/// A "Check" (or element of "Checks") of a registration, as sent. Durations
/// are kept as sent ("10s"; a JSON number of nanoseconds as its digits).
struct consul_check_definition {
  std::string check_id;
  std::string name;
  std::string http;
  std::string method;
  std::map<std::string, std::vector<std::string>> header;
  std::string tcp;
  std::string ttl;
  std::string interval;
  std::string timeout;
  std::string deregister_critical_service_after;
  bool tls_skip_verify = false;
  std::string status; // "" when not sent
  std::string notes;
};

/// One accepted PUT /v1/agent/service/register, parsed.
struct consul_service_registration {
  std::string id; // as sent, or the name when absent
  std::string name;
  std::vector<std::string> tags;
  std::string address;
  int port = 0;
  std::map<std::string, std::string> meta;
  bool weights_sent = false;
  int weight_passing = 1;
  int weight_warning = 1;
  bool enable_tag_override = false;
  std::optional<consul_check_definition> check;
  std::vector<consul_check_definition> checks;
  bool replace_existing_checks = false; // ?replace-existing-checks
  std::string token;                    // the ACL token it carried
  std::string body;                     // the request body, verbatim
};

/// One request as the emulator saw it.
struct consul_request {
  std::string method;
  std::string target; // path and query as sent: "/v1/catalog/services?dc=x"
  std::string path;   // without the query
  std::string token;  // the X-Consul-Token header, "" when absent
  std::chrono::steady_clock::time_point at;
};

/// Listens on a free 127.0.0.1 port as soon as it is built (throws
/// std::runtime_error if it cannot). Every method is thread-safe.
/// Destruction (like stop()) releases blocked queries at once.
class consul_emulator {
public:
  explicit consul_emulator(consul_emulator_options options = {});
  ~consul_emulator();

  consul_emulator(const consul_emulator&) = delete;
  consul_emulator& operator=(const consul_emulator&) = delete;

  uint16_t port() const;
  std::string url() const; // "http://127.0.0.1:<port>"
  const consul_emulator_options& options() const;

  // --- the catalog, directly ----------------------------------------------

  /// Adds `instance`, or replaces the one with its ID (checks included:
  /// unlike an agent registration, this sets check states as given).
  /// Throws std::invalid_argument on a missing name or an unknown status.
  void register_instance(consul_instance instance);
  /// Whether there was such an instance (registered either way).
  bool deregister_instance(const std::string& id);
  /// Sets the status (and output; by default one like Consul's for the
  /// check type) of instance `service_id`'s check `check_id`, or of all its
  /// checks when `check_id` is empty. Throws std::out_of_range for an
  /// unknown instance or check, std::invalid_argument for a bad status.
  void set_check_status(const std::string& service_id,
                        const std::string& status,
                        const std::string& check_id = {},
                        std::optional<std::string> output = {});
  /// Sets node `node`'s serfHealth check, which applies to every instance
  /// on it. Throws std::out_of_range for an unknown node.
  void set_node_check_status(const std::string& node,
                             const std::string& status);
  /// The instance with this ID as the catalog holds it.
  std::optional<consul_instance> instance(const std::string& id) const;

  /// The raft index of the last change (restart() may lower it).
  uint64_t current_index() const;
  /// The X-Consul-Index /v1/catalog/services would answer now.
  uint64_t catalog_index() const;
  /// The X-Consul-Index /v1/health/service/<name> would answer now.
  uint64_t health_index(const std::string& name) const;

  // --- what the agent API received ----------------------------------------

  /// Every accepted registration, in arrival order.
  std::vector<consul_service_registration> registrations() const;
  /// The registration that put instance `id` in the catalog, while it is
  /// there (nullopt once deregistered, or if it came from a hook).
  std::optional<consul_service_registration>
  registered(const std::string& id) const;
  /// The IDs of every accepted deregistration, in arrival order.
  std::vector<std::string> deregistrations() const;

  // --- requests -------------------------------------------------------------

  std::vector<consul_request> request_log() const;
  /// Requests whose path starts with `path_prefix` (every request counts,
  /// whatever it was answered).
  size_t request_count(const std::string& path_prefix = "/") const;
  /// Blocking queries waiting right now.
  size_t blocked_queries() const;
  /// Waits until at least `count` queries are blocked; false on timeout.
  bool wait_for_blocked_queries(size_t count,
                                std::chrono::milliseconds timeout) const;

  // --- misbehaving ----------------------------------------------------------

  /// Non-zero: every request (from now on, and every query blocked now)
  /// answers `http_status` with `body`; the default body for 500 is
  /// Consul's "rpc error making call: No cluster leader". 0: normal again.
  void set_failure_mode(int http_status, std::string body = {});
  /// Answers for paths starting with `path_prefix` stay 200 (with their
  /// headers) but their body is cut in half: invalid JSON.
  void set_garbage_mode(const std::string& path_prefix, bool on);
  /// While on, GETs of exactly `path` without ?index= (a listing's reads,
  /// not a loop's blocking queries) are logged, then held unanswered until
  /// it is off again or the agent stops: a client caught in the middle of
  /// a sequence of reads, for as long as a test needs.
  void set_hold(const std::string& path, bool on);

  /// The agent goes down: the port refuses connections, open connections
  /// are closed, blocked queries are dropped without an answer. Returns
  /// once all that is done. No-op if already stopped.
  void stop();
  /// Stops if running, then listens again on the same port with the
  /// catalog (and what the agent received) kept. With `start_index`, the
  /// raft index and every view's index are reset to it: an agent whose
  /// cluster came back with a lower (or higher) index.
  void restart(std::optional<uint64_t> start_index = std::nullopt);
  bool running() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace orasi::test
