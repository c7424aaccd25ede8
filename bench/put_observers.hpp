// Who sees a put of a new service, and when: orasi's subscription callback,
// an in-process read of the service (get_service_entry / get_service),
// the admin API's GET /v1/services/<id> over one kept-alive connection,
// `etcdctl watch` (gRPC) and a bare watch on etcd's JSON gateway (what
// orasi's watch thread reads, without orasi's decoding and actors). Used by
// etcd_propagation_bench.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <httplib.h>

#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"
#include "bench/child_process.hpp"
#include "bench/proc_stats.hpp"
#include "messages/snapshot.hpp"

namespace orasi::bench {

using steady = std::chrono::steady_clock;

enum observer : size_t {
  orasi_callback, // the subscription callback gets a snapshot with the id
  orasi_read,     // get_service_entry(id) (get_service before it existed)
  admin_get,      // GET /v1/services/<id> answers 200
  etcdctl,        // `etcdctl watch --prefix` prints the key
  gateway,        // the gateway's watch stream carries the key
  observers
};

inline const char* to_string(observer who) {
  static const char* const names[] = {"orasi_callback", "orasi_read",
                                      "admin_get", "etcdctl", "gateway"};
  return names[who];
}

/// The one id in flight and when each observer first saw it. Puts are
/// sequential, so one slot is enough; an observer that reports an id after
/// the main thread moved on (a miss) is ignored.
class arrivals {
public:
  using sightings = std::array<std::optional<steady::time_point>, observers>;

  /// `key` is the id's etcd key.
  void expect(std::string id, const std::string& key) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      expected_ = std::move(id);
      // The gateway's events carry keys as base64 JSON strings.
      expected_key_json_ = '"' + backends::base64_encode(key) + '"';
      seen_ = {};
    }
    wanted_cv_.notify_all();
  }

  /// The subscription callback: runs on a CAF worker for every snapshot, so
  /// it does one map lookup for the expected id and nothing else.
  void on_snapshot(const RegistrySnapshot& snapshot) {
    auto now = steady::now();
    std::lock_guard<std::mutex> guard{mutex_};
    if (!seen_[orasi_callback] && !expected_.empty() &&
        snapshot.services.count(expected_) > 0)
      record(orasi_callback, now);
  }

  /// A key line of etcdctl's output, read at `now`.
  void on_etcdctl_key(std::string_view id, steady::time_point now) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!seen_[etcdctl] && !expected_.empty() && id == expected_)
      record(etcdctl, now);
  }

  /// A message of the gateway's watch stream, read at `now`.
  void on_gateway_message(std::string_view line, steady::time_point now) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!seen_[gateway] && !expected_.empty() &&
        line.find(expected_key_json_) != std::string_view::npos)
      record(gateway, now);
  }

  /// For a poller: blocks until an id is expected that `who` has not seen
  /// yet, and returns it; nothing once stop() was called.
  std::optional<std::string> wanted_by(observer who) {
    std::unique_lock<std::mutex> lock{mutex_};
    wanted_cv_.wait(
        lock, [&] { return stopping_ || (!expected_.empty() && !seen_[who]); });
    if (stopping_)
      return std::nullopt;
    return expected_;
  }

  /// A poller found `id` at `now`.
  void on_polled(observer who, const std::string& id, steady::time_point now) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!seen_[who] && expected_ == id)
      record(who, now);
  }

  /// Waits until every observer saw the expected id or until `deadline`;
  /// returns their times (unset for a miss).
  sightings wait(steady::time_point deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    cv_.wait_until(lock, deadline, [this] { return all_seen(); });
    expected_.clear();
    return seen_;
  }

  /// Ends every wanted_by().
  void stop() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stopping_ = true;
    }
    wanted_cv_.notify_all();
  }

private:
  void record(observer who, steady::time_point now) {
    seen_[who] = now;
    if (all_seen())
      cv_.notify_all();
  }

  bool all_seen() const {
    return std::all_of(seen_.begin(), seen_.end(),
                       [](const auto& at) { return at.has_value(); });
  }

  std::mutex mutex_;
  std::condition_variable cv_;        // all observers saw the id
  std::condition_variable wanted_cv_; // an id to poll for, or stopping
  std::string expected_;
  std::string expected_key_json_;
  sightings seen_;
  bool stopping_ = false;
};

/// A thread that, while an id is expected, calls `probe(id)` until it says
/// the id is visible, `pause` apart, and reports the time to `sink`.
class poller {
public:
  using probe_function = std::function<bool(const std::string& id)>;

  poller(observer who, arrivals& sink, std::chrono::microseconds pause,
         probe_function probe)
      : who_(who), sink_(sink), pause_(pause), probe_(std::move(probe)) {
    thread_ = std::thread{[this] {
      tid_ = proc::this_thread_id();
      loop();
    }};
  }

  /// Call sink.stop() first.
  ~poller() { thread_.join(); }

  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  /// The polling thread (for its CPU time).
  pid_t thread_id() const { return tid_; }
  /// Probes made so far.
  size_t probes() const { return probes_; }

private:
  void loop() {
    while (auto id = sink_.wanted_by(who_)) {
      ++probes_;
      if (probe_(*id))
        sink_.on_polled(who_, *id, steady::now());
      else if (pause_.count() > 0)
        std::this_thread::sleep_for(pause_);
    }
  }

  observer who_;
  arrivals& sink_;
  std::chrono::microseconds pause_;
  probe_function probe_;
  std::atomic<pid_t> tid_{0};
  std::atomic<size_t> probes_{0};
  std::thread thread_;
};

/// GET /v1/services/<id> on the admin API over one kept-alive connection
/// (httplib reconnects only if the server closes it).
class admin_probe {
public:
  explicit admin_probe(uint16_t port) : client_("127.0.0.1", port) {
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true); // our socket; the server sets its own
    client_.set_connection_timeout(std::chrono::seconds(2));
    client_.set_read_timeout(std::chrono::seconds(10));
  }

  bool operator()(const std::string& id) {
    auto res = client_.Get("/v1/services/" + id);
    if (!res) {
      ++errors_;
      return false;
    }
    return res->status == 200;
  }

  size_t errors() const { return errors_; }

private:
  httplib::Client client_;
  size_t errors_ = 0;
};

/// A watch on etcd's JSON gateway (/v3/watch, one JSON message per line),
/// read by its own thread with httplib as orasi's watch thread does, but
/// only searched for the expected key.
class gateway_watch {
public:
  gateway_watch(const std::string& etcd_url, const std::string& services_prefix,
                arrivals& sink)
      : client_(etcd_url), sink_(sink) {
    boost::json::object create{
        {"key", backends::base64_encode(services_prefix)},
        {"range_end", backends::base64_encode(
                          backends::etcd::prefix_range_end(services_prefix))}};
    boost::json::object request{{"create_request", std::move(create)}};
    body_ = boost::json::serialize(request);
    client_.set_read_timeout(std::chrono::hours(1));
    reader_ = std::thread{[this] {
      tid_ = proc::this_thread_id();
      read_loop();
    }};
  }

  ~gateway_watch() {
    stopping_ = true;
    client_.stop(); // shuts the socket down under the blocked read
    reader_.join();
  }

  gateway_watch(const gateway_watch&) = delete;
  gateway_watch& operator=(const gateway_watch&) = delete;

private:
  void read_loop() {
    std::string pending;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v3/watch";
    req.body = body_;
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char* data, size_t size, uint64_t,
                               uint64_t) {
      auto now = steady::now();
      pending.append(data, size);
      size_t start = 0;
      for (size_t end; (end = pending.find('\n', start)) != std::string::npos;
           start = end + 1)
        sink_.on_gateway_message({pending.data() + start, end - start}, now);
      pending.erase(0, start);
      return !stopping_.load();
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    client_.send(req, res, error);
    if (!stopping_)
      std::fprintf(stderr, "gateway watch ended: %s\n",
                   httplib::to_string(error).c_str());
  }

  httplib::Client client_;
  arrivals& sink_;
  std::string body_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;

public:
  /// The reading thread (for its CPU time).
  pid_t thread_id() const { return tid_; }

private:
  std::atomic<pid_t> tid_{0};
};

/// `etcdctl watch --prefix <services prefix>` with a thread that reads its
/// output and reports every key line under the prefix to `sink`.
class etcdctl_watch {
public:
  etcdctl_watch(const std::string& etcdctl, const std::string& etcd_url,
                const std::string& services_prefix, arrivals& sink)
      : services_prefix_(services_prefix), sink_(sink) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    pid_ = spawn({etcdctl, "--endpoints", etcd_url, "watch", "--prefix",
                  services_prefix},
                 fds[1]);
    watch_child = pid_;
    ::close(fds[1]); // EOF on fds[0] once etcdctl is gone
    fd_ = fds[0];
    reader_ = std::thread{[this] {
      tid_ = proc::this_thread_id();
      read_loop();
    }};
  }

  ~etcdctl_watch() {
    watch_child = 0;
    ::kill(pid_, SIGTERM);
    wait_for(pid_);
    reader_.join();
    ::close(fd_);
  }

  etcdctl_watch(const etcdctl_watch&) = delete;
  etcdctl_watch& operator=(const etcdctl_watch&) = delete;

private:
  // Each event is "PUT\n<key>\n<value>\n" (Go writes stdout unbuffered, one
  // write per line); every line of one read() arrived at the same time.
  void read_loop() {
    std::string pending;
    char buffer[65536];
    for (;;) {
      auto n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      auto now = steady::now();
      pending.append(buffer, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t end; (end = pending.find('\n', start)) != std::string::npos;
           start = end + 1) {
        std::string_view line{pending.data() + start, end - start};
        // Values are JSON objects: only key lines start with the prefix.
        if (line.compare(0, services_prefix_.size(), services_prefix_) == 0)
          sink_.on_etcdctl_key(line.substr(services_prefix_.size()), now);
      }
      pending.erase(0, start);
    }
  }

  std::string services_prefix_;
  arrivals& sink_;
  pid_t pid_ = 0;
  int fd_ = -1;
  std::thread reader_;

public:
  /// The reading thread (for its CPU time).
  pid_t thread_id() const { return tid_; }

private:
  std::atomic<pid_t> tid_{0};
};

} // namespace orasi::bench
