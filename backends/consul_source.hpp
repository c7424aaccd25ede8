// The Consul backend: services from the catalog, their instances and
// health from the health endpoint, both followed with blocking queries
// (Consul's long polls): one loop on /v1/catalog/services, and one per
// selected service on /v1/health/service/<name>, each on its own thread.
// Index rules as Consul documents them: an index that goes backwards resets
// the loop to 0 (the answer is still current data), an index is never used
// below 1, loops are rate-limited, waits and retries are jittered. What the
// loops learn goes into a mirror ordered by index, and poll() hands the
// changed services to the adapter. Registrations go to the local agent;
// stop() deregisters what this instance registered. See consul_wire.hpp
// for the mapping between Consul instances and ServiceInfo.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "backends/consul_client.hpp"
#include "backends/consul_wire.hpp"
#include "backends/discovery_source.hpp"

namespace orasi::backends {

struct consul_source_options {
  consul_client_options client;
  /// Services selected: names starting with it, or tagged with it.
  std::string service_prefix;
  /// The HTTP check registrations get.
  consul::check_settings check;
  /// Blocking query wait (Consul caps it at 10 minutes).
  std::chrono::milliseconds wait{std::chrono::minutes(5)};
  /// Minimum time between two queries of one loop.
  std::chrono::milliseconds min_query_gap{100};
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  /// false: no blocking loops; changes arrive by re-listing only.
  bool watch = true;
};

class consul_source final : public discovery_source {
public:
  explicit consul_source(consul_source_options options);
  ~consul_source() override;

  std::string name() const override { return "consul"; }
  caf::expected<source_listing> list() override;
  caf::expected<std::optional<source_update>> poll() override;
  caf::error put(const std::string& id, const ServiceInfo& info) override;
  caf::error remove(const std::string& id) override;
  void set_change_listener(std::function<void()> notify) override;
  void suspend() override;
  source_counters counters() const override;

private:
  /// What the source knows of one service, at the health index it read.
  struct mirrored {
    uint64_t index = 0;
    ServiceInfo info;
    std::vector<std::string> instance_ids;
    /// A tombstone: the service left the catalog at `index`; answers older
    /// than that (still in flight) must not bring it back.
    bool removed = false;
  };

  /// An instance this source registered, and the agent that holds it.
  struct owned_instance {
    std::string id;
    size_t agent = 0;
  };

  /// One service's health loop.
  struct watcher {
    explicit watcher(std::shared_ptr<consul_agents> agents) : conn(agents) {}
    consul_connection conn;
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    std::thread thread;
  };

  /// A blocking query's index, with Consul's rules.
  struct blocking_index {
    uint64_t value = 0;     // what the next query blocks on (0: it doesn't)
    uint64_t last_seen = 0; // the index of the last answer
    /// Takes the index of an answer; true if the data may have changed.
    bool advance(uint64_t returned, bool& went_back);
  };

  /// Counts an answer too big to read as an unreadable value.
  void count_if_unreadable(const caf::error& err);
  caf::expected<std::pair<consul::catalog, uint64_t>>
  read_catalog(consul_connection& conn, const std::string& query,
               std::chrono::milliseconds timeout);
  caf::expected<mirrored> read_health(consul_connection& conn,
                                      const std::string& name,
                                      const std::string& query,
                                      std::chrono::milliseconds timeout);
  std::set<std::string> selected_names(const consul::catalog& catalog) const;
  /// Takes `fresh` for `name` unless the mirror holds a newer index; a
  /// `fresh` with no instances (or removed) leaves a tombstone.
  void offer(const std::string& name, mirrored fresh, bool force);
  void mark_dirty(const std::string& name); // holds mutex_
  void set_connected(bool connected, const std::string& reason);
  void wake();

  std::string blocking_query(uint64_t index);
  std::chrono::milliseconds blocking_timeout() const;
  bool pause(std::chrono::milliseconds delay, const std::atomic<bool>& stop);
  void rate_limit(std::chrono::steady_clock::time_point started,
                  const std::atomic<bool>& stop);

  void start_catalog_loop(uint64_t index);
  void catalog_loop(uint64_t index);
  void apply_catalog(const std::set<std::string>& names, uint64_t index);
  void start_watcher(const std::string& name, uint64_t index);
  void watch_service(watcher& w, const std::string& name, uint64_t index);
  void stop_watcher(watcher& w);
  void stop_threads();
  caf::error refresh_one(const std::string& name);
  /// Deregisters `instances` where they live; stops trying an agent after
  /// it failed once (at stop, a hung agent must not cost a timeout each).
  size_t deregister(const std::vector<owned_instance>& instances,
                    caf::error& failure);

  consul_source_options options_;
  std::shared_ptr<consul_agents> agents_;
  consul_connection api_conn_;     // list/put/remove: the adapter's thread
  consul_connection catalog_conn_; // the catalog loop

  std::atomic<bool> stopping_{false};
  std::atomic<bool> catalog_done_{true};
  std::thread catalog_thread_;
  std::map<std::string, std::unique_ptr<watcher>> watchers_; // catalog loop
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;

  mutable std::mutex mutex_; // guards what follows
  std::map<std::string, mirrored> mirror_;
  std::set<std::string> dirty_;
  bool connected_ = true;
  std::string disconnect_reason_;
  std::function<void()> notify_;
  std::map<std::string, std::vector<owned_instance>> owned_; // by service id
  uint64_t loop_catalog_index_ = 0; // of the catalog the loop last applied

  std::atomic<uint64_t> unreadable_values_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> relists_{0}; // indexes that went backwards
};

} // namespace orasi::backends
