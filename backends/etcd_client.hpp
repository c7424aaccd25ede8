// A blocking client for etcd's v3 JSON gateway over one or more cluster
// members. Each thread that talks to etcd owns an etcd_connection (HTTP
// clients are not thread-safe); the connections of one source share an
// etcd_members: which member is current, and the auth token. A member that
// fails is left for the next one, for every connection at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace httplib {
class Client;
} // namespace httplib

namespace orasi::backends {

struct etcd_client_options {
  /// Member URLs, "http://host:port" or "https://host:port".
  std::vector<std::string> endpoints{"http://127.0.0.1:2379"};
  /// etcd auth: when set, a token is requested and sent with every call.
  std::string username;
  std::string password;
  /// TLS: CA bundle to verify members with (https endpoints are always
  /// verified; without a CA file against the system's CAs), and an optional
  /// client certificate for etcd's --client-cert-auth.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds dial_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  /// A bigger response (or watch message) is cut off and fails the call.
  size_t max_response_bytes = 64 << 20;
};

class etcd_members {
public:
  explicit etcd_members(etcd_client_options options);

  const etcd_client_options& options() const { return options_; }
  size_t size() const { return options_.endpoints.size(); }

  /// The member calls go to now.
  size_t current() const { return current_.load(); }
  const std::string& url(size_t member) const {
    return options_.endpoints[member];
  }

  /// `member` failed: if it is still the current one, the next becomes
  /// current (another thread may have moved on already).
  void failed(size_t member);

  std::string token() const;
  void set_token(std::string token);

private:
  etcd_client_options options_;
  std::atomic<size_t> current_{0};
  mutable std::mutex token_mutex_;
  std::string token_;
};

class etcd_connection {
public:
  explicit etcd_connection(std::shared_ptr<etcd_members> members);
  ~etcd_connection();

  etcd_connection(const etcd_connection&) = delete;
  etcd_connection& operator=(const etcd_connection&) = delete;

  /// POSTs `body` to `path` ("/v3/kv/range", ...) and returns the response
  /// body. Fails over to the next member on connection errors and on
  /// "unavailable" answers (no leader during an election), two rounds over
  /// the members at most (`rounds`). Errors: backend_unavailable (no member
  /// answered), backend_rejected (etcd refused; `grpc_code` receives its code).
  caf::expected<std::string> call(const std::string& path,
                                  const std::string& body,
                                  int* grpc_code = nullptr, int rounds = 2);

  /// One attempt on the current member only, no failover (for best-effort
  /// calls on the way out, e.g. revoking a lease at stop).
  caf::expected<std::string> call_once(const std::string& path,
                                       const std::string& body);

  /// POSTs a streaming request to the current member and hands each line of
  /// the response to `on_line` until the stream ends, `on_line` returns
  /// false, nothing arrives for `idle_timeout`, or interrupt() is called.
  /// Returns the error that ended the stream (none if on_line stopped it).
  /// No failover: the caller decides what a broken stream means.
  caf::error stream(const std::string& path, const std::string& body,
                    const std::function<bool(std::string_view)>& on_line,
                    std::chrono::milliseconds idle_timeout);

  /// Aborts a call or stream in progress on another thread; until resume(),
  /// calls and streams fail at once (backend_unavailable, "interrupted").
  void interrupt();
  void resume();

  /// The member the last call or stream went to.
  size_t last_member() const { return last_member_; }

private:
  enum class attempt_status { ok, transport_error, unavailable, rejected };

  attempt_status attempt(size_t member, const std::string& path,
                         const std::string& body, std::string& response,
                         int& grpc_code);
  caf::error authenticate(size_t member);
  httplib::Client& client_for(size_t member);

  std::shared_ptr<etcd_members> members_;
  std::vector<std::unique_ptr<httplib::Client>> clients_; // per member
  std::mutex active_mutex_;
  httplib::Client* active_ = nullptr; // the client a call is running on
  std::atomic<bool> interrupted_{false};
  size_t last_member_ = 0;
};

} // namespace orasi::backends
