// etcd backend benchmark, against a running etcd (--etcd URL):
//
// Propagation: an orasi::ServiceDiscovery on the etcd backend and, beside
// it, `etcdctl watch --prefix <prefix>/services/` as a child process (gRPC)
// and a bare watch on etcd's JSON gateway (what orasi's watch thread reads,
// without orasi's decoding and actors). Each of --puts fresh services is
// written with one raw HTTP PUT to the gateway (/v3/kv/put, keep-alive);
// the benchmark times, from just before the PUT, when orasi's subscription
// callback first gets a snapshot with the id and when each watch reports
// the key. Puts are sequential (the next one waits for all three, or for
// the timeout) and 0-5 ms apart, so that they never pipeline.
//
// Initial sync: --sync-services services (2-3 endpoints each, metadata) are
// written under a second prefix, then ServiceDiscovery::start() (the first
// full listing, published) is timed over --runs fresh instances, beside
// `etcdctl get --prefix ... -w json > /dev/null` and the same paged listing
// and decoding that start() does, done bare, in the same runs.
//
// Prints one JSON object on stdout and a summary on stderr. See
// bench/run_etcd_propagation.sh and bench/RESULTS.md.

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <httplib.h>

#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"
#include "bench/bench_cli.hpp"
#include "messages/json_codec.hpp"
#include "runtime/service_discovery.hpp"

extern char** environ;

namespace {

using steady = std::chrono::steady_clock;
using orasi::backends::base64_encode;

struct bench_options {
  std::string etcd;                        // client URL of the etcd member
  std::string etcdctl = "etcdctl";         // looked up in PATH
  std::string prefix = "/orasi";           // the propagation test's
  std::string sync_prefix = "/orasi-sync"; // the initial sync's
  size_t puts = 1000;
  size_t warmup = 20;    // unrecorded puts before the measured ones
  size_t background = 0; // services already registered before the puts
  size_t sync_services = 10000;
  size_t runs = 5; // initial-sync runs
  long max_pause_us = 5000;
  double timeout_s = 5; // per put, for each observer
  size_t writers = 4;   // parallel clients loading the sync services
  /// TCP_NODELAY on the benchmark's own gateway connections. Off shows what
  /// a client without it pays: the request body waits for the delayed ACK
  /// of the headers.
  bool tcp_nodelay = true;
  /// service_discovery.refresh_interval (the periodic full re-list); 0
  /// keeps the library's default.
  double refresh_s = 0;
};

double micros(steady::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double seconds(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// -- data ---------------------------------------------------------------------

std::string format_id(const char* kind, size_t i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s-%06zu", kind, i);
  return buffer;
}

/// A service as a deployment would register it: 2 or 3 endpoints with
/// zone/pod metadata, and owner metadata on the service. About 600 bytes of
/// JSON, so that decoding costs what it would in production.
orasi::ServiceInfo make_service(size_t i) {
  static const char* const zones[] = {"eu-west-1a", "eu-west-1b", "eu-west-1c"};
  static const char* const teams[] = {"payments", "search", "identity",
                                      "catalog"};
  char buffer[96];
  orasi::ServiceInfo info;
  std::snprintf(buffer, sizeof buffer, "%s-api-%zu", teams[i % 4], i / 4);
  info.name = buffer;
  info.metadata = {{"team", teams[i % 4]},
                   {"version", "1." + std::to_string(i % 20) + ".3"},
                   {"protocol", "http"}};
  for (size_t j = 0; j < 2 + i % 2; ++j) {
    orasi::ServiceEndpoint endpoint;
    std::snprintf(buffer, sizeof buffer, "http://127.%zu.%zu.%zu:%zu",
                  i / 250 % 256, i % 250, 10 + j, 8000 + i % 100);
    endpoint.url = buffer;
    endpoint.weight = j == 0 ? 2 : 1;
    endpoint.health_status = orasi::EndpointHealthStatus::Healthy;
    std::snprintf(buffer, sizeof buffer, "%s-7f9c%04zx-%zu", info.name.c_str(),
                  i % 0x10000, j);
    endpoint.metadata = {{"zone", zones[j % 3]}, {"pod", buffer}};
    info.endpoints.push_back(std::move(endpoint));
  }
  return info;
}

// -- etcd over its JSON gateway ----------------------------------------------

/// One keep-alive connection to the gateway (httplib clients are not
/// thread-safe: one per thread). Failures throw: the benchmark cannot go on.
class etcd_http {
public:
  explicit etcd_http(const bench_options& opts) : client_(opts.etcd) {
    client_.set_keep_alive(true);
    // httplib writes headers and body separately: without TCP_NODELAY the
    // body waits for the delayed ACK of the headers (about 40 ms).
    client_.set_tcp_nodelay(opts.tcp_nodelay);
    client_.set_connection_timeout(std::chrono::seconds(2));
    client_.set_read_timeout(std::chrono::seconds(30));
  }

  std::string post(const std::string& path, const std::string& body) {
    auto res = client_.Post(path, body, "application/json");
    if (!res)
      throw std::runtime_error("POST " + path + ": " +
                               httplib::to_string(res.error()));
    if (res->status != 200)
      throw std::runtime_error("POST " + path + ": HTTP " +
                               std::to_string(res->status) + ": " + res->body);
    return std::move(res->body);
  }

  void put(const std::string& key, const std::string& value) {
    boost::json::object request{{"key", base64_encode(key)},
                                {"value", base64_encode(value)}};
    post("/v3/kv/put", boost::json::serialize(request));
  }

  /// Writes all of `kvs` in one transaction (etcd's --max-txn-ops is 128 by
  /// default).
  void put_all(const std::vector<std::pair<std::string, std::string>>& kvs) {
    boost::json::array ops;
    for (const auto& [key, value] : kvs)
      ops.emplace_back(boost::json::object{
          {"request_put",
           {{"key", base64_encode(key)}, {"value", base64_encode(value)}}}});
    boost::json::object txn;
    txn["success"] = std::move(ops);
    post("/v3/kv/txn", boost::json::serialize(txn));
  }

  void delete_prefix(const std::string& prefix) {
    boost::json::object request{
        {"key", base64_encode(prefix)},
        {"range_end",
         base64_encode(orasi::backends::etcd::prefix_range_end(prefix))}};
    post("/v3/kv/deleterange", boost::json::serialize(request));
  }

  size_t count_prefix(const std::string& prefix) {
    boost::json::object request{
        {"key", base64_encode(prefix)},
        {"range_end",
         base64_encode(orasi::backends::etcd::prefix_range_end(prefix))},
        {"count_only", true}};
    auto reply = boost::json::parse(
        post("/v3/kv/range", boost::json::serialize(request)));
    // int64 fields come as strings, and not at all when 0.
    auto* count = reply.as_object().if_contains("count");
    return count ? std::stoul(std::string{count->as_string()}) : 0;
  }

private:
  httplib::Client client_;
};

// -- child processes ----------------------------------------------------------

/// Starts `args` (args[0] looked up in PATH) with stdout on `stdout_fd`.
pid_t spawn(const std::vector<std::string>& args, int stdout_fd) {
  std::vector<char*> argv;
  for (const auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  pid_t pid = 0;
  int err =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    throw std::runtime_error("cannot start " + args[0] + ": " +
                             std::strerror(err));
  return pid;
}

/// Waits for `pid`; its exit status, or -1 if killed by a signal.
int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Runs `args` with stdout on /dev/null; its wall time from spawn to exit.
steady::duration time_command(const std::vector<std::string>& args) {
  int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    throw std::runtime_error("cannot open /dev/null");
  auto t0 = steady::now();
  auto pid = spawn(args, null_fd);
  auto status = wait_for(pid);
  auto elapsed = steady::now() - t0;
  ::close(null_fd);
  if (status != 0)
    throw std::runtime_error(args[0] + " " + args[1] + " ... failed (status " +
                             std::to_string(status) + ")");
  return elapsed;
}

/// The etcdctl watch, for the signal handler: killed with the benchmark,
/// it would keep retrying a stopped etcd forever.
volatile sig_atomic_t watch_child = 0;

extern "C" void on_terminate(int signal) {
  if (watch_child > 0)
    ::kill(watch_child, SIGTERM);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

// -- propagation --------------------------------------------------------------

/// Who saw a put: orasi's subscription callback, `etcdctl watch` (gRPC),
/// and a bare watch on etcd's JSON gateway (what orasi reads, without
/// orasi's decoding and actors).
enum observer : size_t { orasi_callback, etcdctl, gateway, observers };

/// The one id in flight and when each observer first saw it. Puts are
/// sequential, so one slot is enough; an observer that reports an id after
/// the main thread moved on (a miss) is ignored.
class arrivals {
public:
  using sightings = std::array<std::optional<steady::time_point>, observers>;

  /// `key` is the id's etcd key.
  void expect(std::string id, const std::string& key) {
    std::lock_guard<std::mutex> guard{mutex_};
    expected_ = std::move(id);
    // The gateway's events carry keys as base64 JSON strings.
    expected_key_json_ = '"' + base64_encode(key) + '"';
    seen_ = {};
  }

  /// The subscription callback: runs on a CAF worker for every snapshot, so
  /// it does one map lookup for the expected id and nothing else.
  void on_snapshot(const orasi::RegistrySnapshot& snapshot) {
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

  /// Waits until every observer saw the expected id or until `deadline`;
  /// returns their times (unset for a miss).
  sightings wait(steady::time_point deadline) {
    std::unique_lock<std::mutex> lock{mutex_};
    cv_.wait_until(lock, deadline, [this] { return all_seen(); });
    expected_.clear();
    return seen_;
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
  std::condition_variable cv_;
  std::string expected_;
  std::string expected_key_json_;
  sightings seen_;
};

/// A watch on etcd's JSON gateway (/v3/watch, one JSON message per line),
/// read by its own thread with httplib as orasi's watch thread does, but
/// only searched for the expected key.
class gateway_watch {
public:
  gateway_watch(const bench_options& opts, const std::string& services_prefix,
                arrivals& sink)
      : client_(opts.etcd), sink_(sink) {
    boost::json::object create{
        {"key", base64_encode(services_prefix)},
        {"range_end", base64_encode(orasi::backends::etcd::prefix_range_end(
                          services_prefix))}};
    boost::json::object request{{"create_request", std::move(create)}};
    body_ = boost::json::serialize(request);
    client_.set_read_timeout(std::chrono::hours(1));
    reader_ = std::thread{[this] { read_loop(); }};
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
};

/// `etcdctl watch --prefix <services prefix>` with a thread that reads its
/// output and reports every key line under the prefix to `sink`.
class etcdctl_watch {
public:
  etcdctl_watch(const bench_options& opts, const std::string& services_prefix,
                arrivals& sink)
      : services_prefix_(services_prefix), sink_(sink) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    pid_ = spawn({opts.etcdctl, "--endpoints", opts.etcd, "watch", "--prefix",
                  services_prefix},
                 fds[1]);
    watch_child = pid_;
    ::close(fds[1]); // EOF on fds[0] once etcdctl is gone
    fd_ = fds[0];
    reader_ = std::thread{[this] { read_loop(); }};
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
};

struct percentiles {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

/// Nearest-rank percentiles.
percentiles summarize(std::vector<double> xs) {
  percentiles result;
  result.count = xs.size();
  if (xs.empty())
    return result;
  std::sort(xs.begin(), xs.end());
  auto rank = [&](double p) {
    auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(xs.size())));
    return xs[std::clamp<size_t>(i, 1, xs.size()) - 1];
  };
  result.p50 = rank(0.50);
  result.p90 = rank(0.90);
  result.p99 = rank(0.99);
  result.max = xs.back();
  double sum = 0;
  for (double x : xs)
    sum += x;
  result.mean = sum / static_cast<double>(xs.size());
  return result;
}

boost::json::object to_json(const percentiles& p) {
  return {{"count", p.count}, {"p50", p.p50}, {"p90", p.p90},
          {"p99", p.p99},     {"max", p.max}, {"mean", p.mean}};
}

orasi::GatewayConfig etcd_config(const bench_options& opts,
                                 const std::string& prefix) {
  orasi::GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = orasi::ServiceDiscoveryBackend::Etcd;
  sd.endpoints = {opts.etcd};
  sd.prefix = prefix;
  sd.health_check.enabled = false; // nothing to probe: 10.x addresses
  if (opts.refresh_s > 0)
    sd.refresh_interval = std::chrono::duration_cast<orasi::Duration>(
        std::chrono::duration<double>(opts.refresh_s));
  return config;
}

/// Writes `count` services under `prefix`, ids "<kind>-NNNNNN", in
/// transactions of 100 keys from `opts.writers` parallel connections.
/// Returns the total bytes of the values.
size_t load_services(const bench_options& opts, const std::string& prefix,
                     const char* kind, size_t count) {
  constexpr size_t per_txn = 100;
  std::atomic<size_t> next_batch{0};
  std::atomic<size_t> value_bytes{0};
  std::vector<std::thread> writers;
  std::mutex error_mutex;
  std::string error;
  for (size_t w = 0; w < std::max<size_t>(1, opts.writers); ++w)
    writers.emplace_back([&] {
      try {
        etcd_http http{opts};
        std::vector<std::pair<std::string, std::string>> kvs;
        for (size_t batch; (batch = next_batch++) * per_txn < count;) {
          kvs.clear();
          size_t bytes = 0;
          for (size_t i = batch * per_txn;
               i < std::min(count, (batch + 1) * per_txn); ++i) {
            auto value = orasi::encode(make_service(i));
            bytes += value.size();
            kvs.emplace_back(prefix + "/services/" + format_id(kind, i),
                             std::move(value));
          }
          http.put_all(kvs);
          value_bytes += bytes;
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> guard{error_mutex};
        error = e.what();
      }
    });
  for (auto& writer : writers)
    writer.join();
  if (!error.empty())
    throw std::runtime_error("loading services: " + error);
  etcd_http http{opts};
  auto stored = http.count_prefix(prefix + "/services/");
  if (stored != count)
    throw std::runtime_error("loaded " + std::to_string(count) +
                             " services under " + prefix + ", etcd has " +
                             std::to_string(stored));
  return value_bytes.load();
}

/// Latencies (us) of one observer, one entry per measured put; a miss is
/// left out and counted.
struct observed {
  std::vector<std::optional<double>> us;

  percentiles all() const { return part(0, us.size()); }

  /// Puts [begin, end) only.
  percentiles part(size_t begin, size_t end) const {
    std::vector<double> xs;
    for (size_t i = begin; i < end; ++i)
      if (us[i])
        xs.push_back(*us[i]);
    return summarize(std::move(xs));
  }

  size_t misses() const {
    return static_cast<size_t>(std::count(us.begin(), us.end(), std::nullopt));
  }

  /// The per-put difference to `other` where both saw the put.
  percentiles minus(const observed& other) const {
    std::vector<double> xs;
    for (size_t i = 0; i < us.size(); ++i)
      if (us[i] && other.us[i])
        xs.push_back(*us[i] - *other.us[i]);
    return summarize(std::move(xs));
  }
};

boost::json::object run_propagation(const bench_options& opts) {
  auto services_prefix = opts.prefix + "/services/";
  etcd_http http{opts};
  http.delete_prefix(services_prefix);
  if (opts.background > 0)
    load_services(opts, opts.prefix, "b", opts.background);

  orasi::ServiceDiscovery discovery{etcd_config(opts, opts.prefix)};
  discovery.start();
  arrivals seen;
  auto subscription =
      discovery.subscribe([&seen](const orasi::SnapshotPtr& snapshot) {
        seen.on_snapshot(*snapshot);
      });
  etcdctl_watch etcdctl_watcher{opts, services_prefix, seen};
  gateway_watch gateway_watcher{opts, services_prefix, seen};

  std::mt19937 rng{42};
  std::uniform_int_distribution<long> pause_us{0, opts.max_pause_us};
  auto timeout = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(opts.timeout_s));
  std::vector<double> put_us;
  std::array<observed, observers> latencies;
  // Puts service `i` as `id` and waits for every observer (or the
  // timeout); true if all saw it. Records the times when `record`.
  auto put_and_wait = [&](const std::string& id, size_t i,
                          steady::duration wait_at_most, bool record) {
    auto key = services_prefix + id;
    auto value = orasi::encode(make_service(i));
    seen.expect(id, key);
    auto t0 = steady::now();
    http.put(key, value);
    auto put_returned = steady::now();
    auto sightings = seen.wait(t0 + wait_at_most);
    if (record) {
      put_us.push_back(micros(put_returned - t0));
      for (size_t who = 0; who < observers; ++who)
        latencies[who].us.push_back(
            sightings[who] ? std::optional{micros(*sightings[who] - t0)}
                           : std::nullopt);
    }
    return std::all_of(sightings.begin(), sightings.end(),
                       [](const auto& at) { return at.has_value(); });
  };

  // etcdctl prints nothing when its watch is created, and a put made before
  // a watch exists is not replayed to it: put until every observer sees one.
  size_t warm = 0;
  for (bool ready = false; !ready; ++warm) {
    if (warm == 50)
      throw std::runtime_error("the watches saw none of 50 puts");
    ready = put_and_wait(format_id("w", warm), warm,
                         std::chrono::milliseconds(200), false);
  }
  for (size_t i = 0; i < opts.warmup; ++i, ++warm)
    put_and_wait(format_id("w", warm), warm, timeout, false);

  auto started = steady::now();
  for (size_t i = 0; i < opts.puts; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
    put_and_wait(format_id("p", i), i, timeout, true);
  }
  auto elapsed = steady::now() - started;
  auto in_registry = discovery.snapshot()->services.size();
  auto metrics = discovery.backend_metrics();
  subscription.unsubscribe();
  discovery.stop();

  // The registry grows by one service per put: orasi's latency by quarter
  // of the run shows what the registry's size costs.
  boost::json::array quarters;
  for (size_t q = 0; q < 4; ++q) {
    auto begin = opts.puts * q / 4, end = opts.puts * (q + 1) / 4;
    quarters.push_back(
        {{"registry_services", opts.background + warm + end},
         {"orasi_us", to_json(latencies[orasi_callback].part(begin, end))},
         {"gateway_us", to_json(latencies[gateway].part(begin, end))}});
  }
  const auto& orasi = latencies[orasi_callback];
  return {{"puts", opts.puts},
          {"warmup_puts", warm},
          {"background_services", opts.background},
          {"services_in_registry_at_end", in_registry},
          {"elapsed_s", seconds(elapsed)},
          {"put_rtt_us", to_json(summarize(put_us))},
          {"orasi_us", to_json(orasi.all())},
          {"etcdctl_watch_us", to_json(latencies[etcdctl].all())},
          {"gateway_watch_us", to_json(latencies[gateway].all())},
          {"orasi_minus_etcdctl_us", to_json(orasi.minus(latencies[etcdctl]))},
          {"orasi_minus_gateway_us", to_json(orasi.minus(latencies[gateway]))},
          {"by_quarter", std::move(quarters)},
          {"orasi_misses", orasi.misses()},
          {"etcdctl_misses", latencies[etcdctl].misses()},
          {"gateway_misses", latencies[gateway].misses()},
          {"reconnects", metrics.reconnects},
          {"relists", metrics.relists},
          {"unreadable_values", metrics.unreadable_values}};
}

// -- initial sync -------------------------------------------------------------

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n == 0 ? 0 : n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

boost::json::object min_median(const std::vector<double>& xs) {
  boost::json::array all;
  for (double x : xs)
    all.push_back(x);
  return {{"min", xs.empty() ? 0 : *std::min_element(xs.begin(), xs.end())},
          {"median", median(xs)},
          {"runs", std::move(all)}};
}

/// The listing start() does, without orasi's actors: the same paged range
/// over the gateway (pages of 1000 keys, etcd_source's default), then the
/// same decoding (base64 and JSON by etcd_wire, ServiceInfo by json_codec).
/// Returns the milliseconds of each half; the first excludes the parsing
/// that finds each page's last key, which the second half does again.
std::pair<double, double> time_bare_listing(const bench_options& opts,
                                            const std::string& prefix,
                                            size_t expected) {
  namespace etcd = orasi::backends::etcd;
  constexpr int64_t page_size = 1000;
  etcd_http http{opts};
  auto range_end = etcd::prefix_range_end(prefix);
  std::vector<std::string> bodies;
  std::string from = prefix;
  int64_t revision = 0;
  steady::duration fetching{};
  for (;;) {
    auto t0 = steady::now();
    bodies.push_back(
        http.post("/v3/kv/range",
                  etcd::range_request(from, range_end, page_size, revision)));
    fetching += steady::now() - t0;
    auto reply = boost::json::parse(bodies.back()).as_object();
    auto* kvs = reply.if_contains("kvs");
    if (revision == 0)
      revision = std::stoll(std::string{
          reply.at("header").as_object().at("revision").as_string()});
    if (!reply.if_contains("more") || !kvs || kvs->as_array().empty())
      break;
    auto last = kvs->as_array().back().as_object().at("key").as_string();
    from = *orasi::backends::base64_decode({last.data(), last.size()}) + '\0';
  }
  auto t1 = steady::now();
  orasi::ServiceMap services;
  for (const auto& body : bodies) {
    auto page = etcd::decode_range(body);
    if (!page)
      throw std::runtime_error("a range page does not decode");
    for (auto& kv : page->kvs)
      if (auto info = orasi::decode_service(std::string_view{kv.value}))
        services.emplace(kv.key.substr(prefix.size()), std::move(*info));
  }
  auto decoding = steady::now() - t1;
  if (services.size() != expected)
    throw std::runtime_error("the bare listing decoded " +
                             std::to_string(services.size()) + " services");
  return {micros(fetching) / 1000, micros(decoding) / 1000};
}

boost::json::object run_initial_sync(const bench_options& opts) {
  auto services_prefix = opts.sync_prefix + "/services/";
  etcd_http{opts}.delete_prefix(services_prefix);
  auto t0 = steady::now();
  auto value_bytes =
      load_services(opts, opts.sync_prefix, "s", opts.sync_services);
  auto load_time = steady::now() - t0;

  std::vector<double> orasi_ms, etcdctl_ms, etcdctl_startup_ms, fetch_ms,
      decode_ms;
  for (size_t run = 0; run < opts.runs; ++run) {
    auto [fetch, decode] =
        time_bare_listing(opts, services_prefix, opts.sync_services);
    fetch_ms.push_back(fetch);
    decode_ms.push_back(decode);
    {
      // Construction (the actor system) is not part of the sync.
      orasi::ServiceDiscovery discovery{etcd_config(opts, opts.sync_prefix)};
      auto start = steady::now();
      discovery.start();
      orasi_ms.push_back(micros(steady::now() - start) / 1000);
      auto listed = discovery.snapshot()->services.size();
      if (listed != opts.sync_services)
        throw std::runtime_error("start() listed " + std::to_string(listed) +
                                 " services, expected " +
                                 std::to_string(opts.sync_services));
      discovery.stop();
    }
    etcdctl_ms.push_back(
        micros(time_command({opts.etcdctl, "--endpoints", opts.etcd, "get",
                             "--prefix", services_prefix, "-w", "json"})) /
        1000);
    // What etcdctl costs before it reads anything: process start, dial, one
    // empty range.
    etcdctl_startup_ms.push_back(
        micros(time_command({opts.etcdctl, "--endpoints", opts.etcd, "get",
                             opts.sync_prefix + "/absent", "-w", "json"})) /
        1000);
  }
  return {{"services", opts.sync_services},
          {"value_bytes", value_bytes},
          {"load_s", seconds(load_time)},
          {"orasi_start_ms", min_median(orasi_ms)},
          {"etcdctl_get_ms", min_median(etcdctl_ms)},
          {"etcdctl_empty_get_ms", min_median(etcdctl_startup_ms)},
          {"gateway_range_ms", min_median(fetch_ms)},
          {"decode_ms", min_median(decode_ms)}};
}

// -- setup --------------------------------------------------------------------

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(
      status == 0 ? stdout : stderr,
      "usage: %s --etcd URL [--puts N] [--warmup N] [--background N]\n"
      "          [--sync-services N] [--runs N] [--max-pause-us US]\n"
      "          [--timeout-s S] [--writers N] [--prefix P] [--sync-prefix P]\n"
      "          [--tcp-nodelay on|off] [--refresh-s S] [--etcdctl PATH]\n"
      "Deletes and rewrites everything under the two prefixes.\n"
      "defaults: 1000 puts after 20 warm-up puts, 0 background services,\n"
      "10000 sync services, 5 runs, pauses 0-5000 us, timeout 5 s, 4 "
      "writers,\nTCP_NODELAY on the benchmark's own connections, the "
      "library's refresh\ninterval, prefixes /orasi and /orasi-sync\n",
      program);
  std::exit(status);
}

/// A flag that takes one of two words: true for `yes`.
bool choose(orasi::bench::cli_args& args, const char* yes, const char* no) {
  std::string value = args.value();
  if (value != yes && value != no)
    args.fail();
  return value == yes;
}

bench_options parse_args(int argc, char** argv) {
  bench_options opts;
  orasi::bench::cli_args args{argc, argv, usage};
  args.parse([&](const std::string& flag) {
    if (flag == "--etcd")
      opts.etcd = args.value();
    else if (flag == "--etcdctl")
      opts.etcdctl = args.value();
    else if (flag == "--prefix")
      opts.prefix = args.value();
    else if (flag == "--sync-prefix")
      opts.sync_prefix = args.value();
    else if (flag == "--puts")
      opts.puts = static_cast<size_t>(args.integer());
    else if (flag == "--warmup")
      opts.warmup = static_cast<size_t>(args.integer());
    else if (flag == "--background")
      opts.background = static_cast<size_t>(args.integer());
    else if (flag == "--sync-services")
      opts.sync_services = static_cast<size_t>(args.integer());
    else if (flag == "--runs")
      opts.runs = static_cast<size_t>(args.integer());
    else if (flag == "--max-pause-us")
      opts.max_pause_us = args.integer();
    else if (flag == "--timeout-s")
      opts.timeout_s = args.real();
    else if (flag == "--writers")
      opts.writers = static_cast<size_t>(args.integer());
    else if (flag == "--tcp-nodelay")
      opts.tcp_nodelay = choose(args, "on", "off");
    else if (flag == "--refresh-s")
      opts.refresh_s = args.real();
    else
      return false;
    return true;
  });
  if (opts.etcd.empty() || opts.timeout_s <= 0 || opts.prefix.empty() ||
      opts.sync_prefix.empty() || opts.prefix == opts.sync_prefix ||
      opts.writers == 0)
    args.fail();
  return opts;
}

double number(const boost::json::value& object, const char* key) {
  return object.as_object().at(key).to_number<double>();
}

void print_latencies(const std::string& label, const boost::json::value& p) {
  std::fprintf(stderr,
               "  %-24s p50 %7.0f  p90 %7.0f  p99 %7.0f  max %7.0f us\n",
               label.c_str(), number(p, "p50"), number(p, "p90"),
               number(p, "p99"), number(p, "max"));
}

void print_summary(const boost::json::object& result) {
  if (auto* p = result.if_contains("propagation")) {
    std::fprintf(stderr,
                 "propagation: %.0f puts, %.0f services in the registry at "
                 "the end, %.1f s; misses: orasi %.0f, etcdctl %.0f, "
                 "gateway %.0f\n",
                 number(*p, "puts"), number(*p, "services_in_registry_at_end"),
                 number(*p, "elapsed_s"), number(*p, "orasi_misses"),
                 number(*p, "etcdctl_misses"), number(*p, "gateway_misses"));
    auto& o = p->as_object();
    print_latencies("PUT round trip", o.at("put_rtt_us"));
    print_latencies("etcdctl watch", o.at("etcdctl_watch_us"));
    print_latencies("gateway watch", o.at("gateway_watch_us"));
    print_latencies("orasi subscription", o.at("orasi_us"));
    print_latencies("orasi - etcdctl", o.at("orasi_minus_etcdctl_us"));
    print_latencies("orasi - gateway", o.at("orasi_minus_gateway_us"));
    for (const auto& quarter : o.at("by_quarter").as_array())
      print_latencies("orasi, registry <= " +
                          std::to_string(static_cast<long>(
                              number(quarter, "registry_services"))),
                      quarter.at("orasi_us"));
  }
  if (auto* s = result.if_contains("initial_sync")) {
    std::fprintf(stderr,
                 "initial sync: %.0f services, %.1f MB of values (loaded in "
                 "%.1f s)\n",
                 number(*s, "services"), number(*s, "value_bytes") / 1e6,
                 number(*s, "load_s"));
    for (auto [label, key] : {std::pair{"orasi start()", "orasi_start_ms"},
                              {"etcdctl get -w json", "etcdctl_get_ms"},
                              {"etcdctl empty get", "etcdctl_empty_get_ms"},
                              {"bare gateway range", "gateway_range_ms"},
                              {"bare decoding", "decode_ms"}}) {
      auto& x = s->as_object().at(key);
      std::fprintf(stderr, "  %-24s min %7.1f  median %7.1f ms\n", label,
                   number(x, "min"), number(x, "median"));
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGINT, on_terminate);
  // stdout carries the JSON result only.
  spdlog::set_default_logger(spdlog::stderr_color_mt("orasi"));
  spdlog::set_level(spdlog::level::warn);
  try {
    boost::json::object result{{"etcd", opts.etcd},
                               {"tcp_nodelay", opts.tcp_nodelay},
                               {"refresh_s", opts.refresh_s}};
    if (opts.puts > 0)
      result["propagation"] = run_propagation(opts);
    if (opts.sync_services > 0 && opts.runs > 0)
      result["initial_sync"] = run_initial_sync(opts);
    print_summary(result);
    std::printf("%s\n", boost::json::serialize(result).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "etcd_propagation_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
