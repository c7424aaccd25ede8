// The etcd backend: services live under <prefix>/services/<id> as the
// original module's ServiceInfo JSON. Discovery is push: a full (paged) range
// read, then a watch from that read's revision + 1, so that no change between
// the two is missed. The watch runs on its own thread and queues changes for
// poll(); a compacted start revision or a broken stream leads to a re-list
// and a new watch (exponential backoff with jitter, next member on failure).
// Registrations are attached to one lease kept alive by a second thread; a
// lost lease (expired while partitioned) is granted again and everything this
// instance registered is written again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/discovery_source.hpp"
#include "backends/etcd_client.hpp"

namespace orasi::backends {

struct etcd_source_options {
  etcd_client_options client;
  /// Services live under <prefix>/services/.
  std::string prefix = "/orasi";
  /// TTL of the lease registrations are attached to; kept alive every TTL/3.
  std::chrono::seconds lease_ttl{15};
  /// Reconnect delays: a random value in [min, current], current doubling
  /// from min up to max after each failed attempt.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  /// A watch silent for this long is re-created (from the next revision,
  /// without a re-list), which also notices a member that went away without
  /// closing the connection.
  std::chrono::milliseconds watch_idle_timeout{std::chrono::seconds(60)};
  /// false: no watch thread; poll() reports nothing (for one-off reads,
  /// e.g. EtcdBackend).
  bool watch = true;
  /// Keys per range page (the gateway's responses stay well below gRPC's
  /// message size limit).
  int64_t page_size = 1000;
};

class etcd_source final : public discovery_source {
public:
  explicit etcd_source(etcd_source_options options);
  ~etcd_source() override;

  std::string name() const override { return "etcd"; }
  caf::expected<source_listing> list() override;
  caf::expected<std::optional<source_update>> poll() override;
  caf::error put(const std::string& id, const ServiceInfo& info) override;
  caf::error remove(const std::string& id) override;
  void set_change_listener(std::function<void()> notify) override;
  void suspend() override;
  source_counters counters() const override;

  /// "<prefix>/services/<id>".
  std::string key_of(const std::string& id) const;
  /// The member the watch stream last went to (tests kill it).
  std::string watch_member() const;
  /// The lease registrations are attached to; 0 if none yet.
  int64_t lease_id() const;

private:
  /// One change seen by the watch, or a full listing that replaces
  /// everything queued before it.
  struct queued_change {
    int64_t revision = 0;
    bool full = false;
    source_listing listing;           // full only
    std::string id;                   // event only
    std::optional<ServiceInfo> value; // event: set = put, empty = delete
    bool unreadable = false;          // event: a put whose value is garbage
  };

  caf::expected<source_listing> read_all(etcd_connection& conn);
  /// Decodes one key/value into `listing` (or its unreadable ids).
  void add_to_listing(source_listing& listing, const std::string& key,
                      const std::string& value, int64_t mod_revision);
  /// The id in `key`, or empty if `key` is not a service key.
  std::string id_of(const std::string& key) const;
  std::optional<ServiceInfo> decode_value(const std::string& key,
                                          const std::string& value,
                                          int64_t mod_revision);

  void start_watch(int64_t start_revision);
  /// Runs a thread's body; an exception is logged and marks the data stale.
  void guarded(const char* what, const std::function<void()>& body);
  void stop_threads();
  void watch_loop(int64_t start_revision);
  /// One watch stream; returns how it ended.
  enum class stream_end { stopped, compacted, idle, broken };
  stream_end watch_once(int64_t& next_revision);
  void queue(std::vector<queued_change> changes);
  void set_connected(bool connected, const std::string& reason);
  /// Whether a linearizable read succeeds on some member (after a silent
  /// watch).
  bool cluster_answers();
  /// The key's value is good or gone: report it again if it turns bad.
  void forget_unreadable(const std::string& key);
  /// Waits for `delay` or until stopping; false if stopping.
  bool pause(std::chrono::milliseconds delay);

  void lease_loop();
  caf::error ensure_lease(etcd_connection& conn);
  /// One put on the current lease; returns its revision. `grpc_code`
  /// receives etcd's refusal.
  caf::expected<int64_t> write_on_lease(etcd_connection& conn,
                                        const std::string& id,
                                        const std::string& value,
                                        int* grpc_code);
  /// A put on the lease; if the lease is gone, a new one for everything.
  caf::expected<int64_t> put_owned(etcd_connection& conn, const std::string& id,
                                   const std::string& value);
  /// This instance wrote `id` at `revision` (value, or none for a delete).
  void record_local_write(const std::string& id, int64_t revision,
                          std::optional<ServiceInfo> value);
  /// Drops local writes a listing at `revision` contains. Holds mutex_.
  void forget_local_writes_up_to(int64_t revision);
  /// Writes every owned registration again on the current lease (a new one
  /// if there is none). Callers hold lease_mutex_.
  caf::error regrant_and_reregister(etcd_connection& conn);
  /// regrant_and_reregister, remembering a failure for the keeper to retry.
  void rewrite_owned(etcd_connection& conn);
  bool rewrite_pending() const;

  etcd_source_options options_;
  std::string services_prefix_; // "<prefix>/services/"
  std::shared_ptr<etcd_members> members_;
  etcd_connection api_conn_;   // list/put/remove: the adapter's thread
  etcd_connection watch_conn_; // the watch thread
  etcd_connection lease_conn_; // the lease keeper thread

  std::atomic<bool> stopping_{false};
  std::thread watch_thread_;
  std::thread lease_thread_;
  std::atomic<int> running_threads_{0}; // started and not yet returned
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_; // wakes pauses on stop

  // Guarded by mutex_: what the watch found, for poll().
  mutable std::mutex mutex_;
  std::deque<queued_change> queue_;
  /// The queue overflowed and was dropped: the next poll() re-lists.
  bool overflowed_ = false;
  static constexpr size_t max_queued_changes = 100'000;
  int64_t floor_ = 0; // changes at or below this revision are in a listing
  bool connected_ = true;
  std::string disconnect_reason_;
  std::function<void()> notify_;
  std::map<std::string, int64_t> reported_unreadable_; // key -> mod_revision
  /// Writes of this instance that the registry already shows but the watch
  /// may not have delivered yet: older events for these ids are stale.
  struct local_write {
    int64_t revision = 0;
    std::optional<ServiceInfo> value; // none: deleted
  };
  std::map<std::string, local_write> local_writes_;

  // Guarded by lease_mutex_: registrations of this instance.
  mutable std::mutex lease_mutex_;
  int64_t lease_id_ = 0;
  std::map<std::string, std::string> owned_; // id -> encoded value
  bool rewrite_pending_ = false; // a re-registration failed: retry it

  std::atomic<uint64_t> unreadable_values_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> relists_{0};
  std::atomic<uint64_t> lease_regrants_{0};
  std::atomic<size_t> watch_member_{0};
};

} // namespace orasi::backends
