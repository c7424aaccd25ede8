// A blocking client for Consul's HTTP API over one or more agents. Each
// thread owns a consul_connection (HTTP clients are not thread-safe); the
// connections of one source share consul_agents: which agent is current.
// Every request carries the ACL token in X-Consul-Token (never in the URL,
// so it appears in no log line or error message) and, for catalog and
// health reads, ?dc= when a datacenter is set.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace httplib {
class Client;
} // namespace httplib

namespace orasi::backends {

struct consul_client_options {
  /// Agent URLs, "http://host:8500" or "https://host:8501".
  std::vector<std::string> agents{"http://127.0.0.1:8500"};
  std::string datacenter; // empty: the agent's own
  std::string token;      // empty: no ACL token
  std::string ca_file;    // https: verify against it (default: system CAs)
  std::chrono::milliseconds dial_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  /// A bigger response is cut off and fails the call.
  size_t max_response_bytes = 64 << 20;
};

class consul_agents {
public:
  explicit consul_agents(consul_client_options options);
  const consul_client_options& options() const { return options_; }
  size_t size() const { return options_.agents.size(); }
  size_t current() const { return current_.load(); }
  const std::string& url(size_t agent) const { return options_.agents[agent]; }
  /// `agent` failed: the next one becomes current if it still was.
  void failed(size_t agent);

private:
  consul_client_options options_;
  std::atomic<size_t> current_{0};
};

/// `text` percent-encoded for one URL path segment (ids may hold '?', '#',
/// '%' or spaces).
std::string encode_path_segment(const std::string& text);

/// One answer: status, body and X-Consul-Index (0 if absent).
struct consul_reply {
  int status = 0;
  std::string body;
  uint64_t index = 0;
};

class consul_connection {
public:
  explicit consul_connection(std::shared_ptr<consul_agents> agents);
  ~consul_connection();
  consul_connection(const consul_connection&) = delete;
  consul_connection& operator=(const consul_connection&) = delete;

  /// GET `path` (with "?dc=" added for catalog/health reads when set),
  /// `query` appended ("index=5&wait=30s"), waiting at most `read_timeout`
  /// for the answer. Connection errors and 5xx answers move to the next
  /// agent (one round); errors are backend_unavailable.
  caf::expected<consul_reply> get(const std::string& path,
                                  const std::string& query,
                                  std::chrono::milliseconds read_timeout);

  /// PUT `body` to an agent endpoint; non-2xx is backend_rejected with
  /// Consul's message. With `agent`, to that agent only: a registration
  /// lives on the agent that took it, and only it can remove it.
  caf::expected<consul_reply> put(const std::string& path,
                                  const std::string& body,
                                  std::optional<size_t> agent = std::nullopt);

  /// The agent the last request went to.
  size_t last_agent() const { return last_agent_; }

  /// Aborts a request in progress on another thread; requests fail at once
  /// until resume().
  void interrupt();
  void resume();

private:
  caf::expected<consul_reply> send(const std::string& method,
                                   const std::string& target,
                                   const std::string& body,
                                   std::chrono::milliseconds read_timeout,
                                   std::optional<size_t> pinned);
  httplib::Client& client_for(size_t agent);

  std::shared_ptr<consul_agents> agents_;
  std::vector<std::unique_ptr<httplib::Client>> clients_;
  std::mutex active_mutex_;
  httplib::Client* active_ = nullptr;
  bool interrupted_ = false; // guarded by active_mutex_
  size_t last_agent_ = 0;
};

} // namespace orasi::backends
