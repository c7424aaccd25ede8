// A real etcd cluster (Debian's etcd-server 3.4) for integration tests: N
// members on 127.0.0.1 with free ports and throwaway data dirs, members that
// can be killed, stopped and restarted, and etcdctl helpers to seed and
// inspect the data.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace orasi::test {

struct etcdctl_result {
  int exit_code = -1; // -1 on timeout, 128 + signal if killed by a signal
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0; }
};

/// Runs /usr/bin/etcdctl (API v3) against `endpoints` with `args` passed as
/// argv, never through a shell. The process is killed after `timeout`.
etcdctl_result
etcdctl(const std::vector<std::string>& endpoints,
        std::vector<std::string> args,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Keys and values, base64-decoded, of `etcdctl get --write-out=json` output.
std::map<std::string, std::string> kvs_from_json(const std::string& get_json);

/// How members serve their clients (peers always talk plain http).
enum class etcd_security {
  plain, ///< http://
  tls,   ///< https:// with a certificate of the fixture's own CA
  /// https:// and --client-cert-auth: a client must show a certificate
  /// that CA signed
  client_cert_auth,
};

/// Made with the openssl CLI for one cluster, in its temp directory: a CA,
/// the members' certificate for 127.0.0.1 (for server and client use: etcd's
/// JSON gateway dials its own gRPC port with it, which --client-cert-auth
/// checks too), and a client certificate (what the fixture's own etcdctl
/// calls and health checks show). Empty paths for a plain cluster.
struct etcd_certificates {
  std::string ca_file;
  std::string server_cert_file;
  std::string server_key_file;
  std::string client_cert_file;
  std::string client_key_file;
};

struct etcd_options {
  /// --auto-compaction-retention ("5m", or a revision count with
  /// auto_compaction_mode "revision"). Empty keeps compaction off, so that
  /// tests reading or watching old revisions are not surprised.
  std::string auto_compaction;
  std::string auto_compaction_mode = "periodic";
  /// Appended to every member's command line.
  std::vector<std::string> extra_args;
  /// Client URLs are https:// unless plain.
  etcd_security security = etcd_security::plain;
  /// For the whole cluster to start, and for a member to restart.
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(20);
};

/// Members are numbered 0..size()-1. The constructor returns once every
/// member is healthy (it knows a leader and has applied a quorum read); it
/// throws std::runtime_error with the members' logs if that takes longer
/// than startup_timeout. The destructor kills every member and removes all
/// data, also when a test fails.
class etcd_cluster {
public:
  explicit etcd_cluster(size_t members = 1, etcd_options options = {});
  ~etcd_cluster();
  etcd_cluster(const etcd_cluster&) = delete;
  etcd_cluster& operator=(const etcd_cluster&) = delete;

  size_t size() const { return members_.size(); }
  /// "http://127.0.0.1:PORT" (https:// unless plain) of every member,
  /// running or not.
  std::vector<std::string> client_urls() const;
  std::string client_url(size_t i) const;

  /// SIGKILL, then waits for the exit: a crash, no leadership hand-over.
  void kill(size_t i);
  /// SIGTERM, then waits for the exit (SIGKILL after 10 s).
  void stop(size_t i);
  /// Starts the member again with the same data dir and ports (stopping it
  /// first if it runs) and returns once it is healthy again, that is, once
  /// it has caught up with the leader.
  void restart(size_t i);
  bool running(size_t i);
  /// -1 when not running.
  pid_t pid(size_t i) const { return members_.at(i).pid; }
  /// Everything the member printed, across restarts.
  std::string member_log(size_t i) const;
  /// The index of the member the running members see as leader, if any.
  std::optional<size_t> leader();
  /// The temp directory that holds every member's data and log.
  const std::string& root_dir() const { return root_dir_; }
  /// The CA and certificates of a TLS cluster (empty paths when plain).
  const etcd_certificates& certificates() const { return certificates_; }

  /// etcdctl against the running members (with the CA and the client
  /// certificate when TLS); fails without running etcdctl when none runs
  /// (an empty --endpoints would mean 127.0.0.1:2379).
  etcdctl_result
  etcdctl(std::vector<std::string> args,
          std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The helpers below throw std::runtime_error (with etcdctl's stderr) when
  // etcdctl fails.

  /// `lease` 0 means no lease, as in etcd.
  void put(const std::string& key, const std::string& value, int64_t lease = 0);
  void del(const std::string& key);
  /// The raw output of `etcdctl get --write-out=json`.
  std::string get_json(const std::string& key_or_prefix, bool prefix = false);
  /// Every key under `prefix` with its value, both base64-decoded.
  std::map<std::string, std::string> read_prefix(const std::string& prefix);
  /// The lease the key is attached to; nullopt if the key has no lease or
  /// does not exist.
  std::optional<int64_t> lease_of(const std::string& key);
  /// Grants a lease and returns its ID (as the JSON output and lease_of
  /// show it: decimal, while etcdctl's text output prints hex).
  int64_t grant_lease(std::chrono::seconds ttl);
  /// Compacts up to `revision` and waits until the compaction is applied.
  void compact(int64_t revision);
  /// The store revision, read linearizably.
  int64_t current_revision();

private:
  struct member {
    std::string name;
    std::string data_dir;
    std::string log_path;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    pid_t pid = -1;
    int exit_code = -1; // of the last run, once it has exited
  };

  void start_cluster();
  void assign_free_ports();
  std::vector<std::string> command_line(const member& m) const;
  void start_member(member& m);
  void wait_until_peering(size_t i,
                          std::chrono::steady_clock::time_point deadline);
  bool wait_until_serving(const std::vector<size_t>& which,
                          std::chrono::steady_clock::time_point deadline);
  [[noreturn]] void fail_startup(const std::string& what,
                                 const std::vector<size_t>& which) const;
  void kill_all();
  etcdctl_result checked(std::vector<std::string> args);
  std::vector<std::string> running_urls();

  std::string client_url_of(const member& m) const;

  etcd_options options_;
  std::string root_dir_;
  etcd_certificates certificates_;
  std::string token_;
  std::vector<member> members_;
};

} // namespace orasi::test
