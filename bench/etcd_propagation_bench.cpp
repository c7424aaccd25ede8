// etcd backend benchmark, against a running etcd (--etcd URL):
//
// Propagation (put -> visible): an orasi::ServiceDiscovery on the etcd
// backend with the launcher's admin server (orasi::AdminServer) embedded on
// a loopback port, and beside it `etcdctl watch --prefix <prefix>/services/`
// as a child process (gRPC) and a bare watch on etcd's JSON gateway. After
// --background services are loaded (transactions of 100 keys), each of
// --puts fresh services is written with one raw HTTP PUT to the gateway
// (/v3/kv/put, keep-alive); the benchmark times, from just before the PUT,
// when (see bench/put_observers.hpp)
//   orasi_callback  the subscription callback first gets a snapshot with it,
//   orasi_read      get_service_entry(id) finds it (a thread polling every
//                   --poll-us; get_service(id) where the facade lacks it),
//   admin_get       GET /v1/services/<id> answers 200 (a thread polling over
//                   one kept-alive connection, --poll-us between misses),
//   etcdctl         the raw watch prints the key,
//   gateway         the gateway's watch stream carries the key.
// Puts are sequential (the next one waits for all observers, or for the
// timeout) and 0-5 ms apart, so that they never pipeline. Also: orasi's CPU
// per put (process CPU minus the benchmark's own threads), etcd's CPU per
// put (--etcd-pid), context switches per put, RSS.
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

#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <httplib.h>

#include "admin/admin_server.hpp"
#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"
#include "bench/bench_cli.hpp"
#include "bench/bench_stats.hpp"
#include "bench/child_process.hpp"
#include "bench/etcd_http.hpp"
#include "bench/proc_stats.hpp"
#include "bench/put_observers.hpp"
#include "messages/json_codec.hpp"
#include "runtime/service_discovery.hpp"

namespace {

using steady = std::chrono::steady_clock;
using orasi::backends::base64_encode;
using namespace orasi::bench; // observers, etcd_http, child processes

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
  /// Pause of the in-process and admin pollers between misses.
  long poll_us = 100;
  /// etcd's process id, for its CPU time per put (0: not measured).
  long etcd_pid = 0;
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

using orasi::bench::percentiles;
using orasi::bench::summarize;

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
  sd.health_check.enabled = false; // nothing listens at these addresses
  // Room for every service the benchmark writes (2-3 endpoints each); the
  // defaults refuse listings over 50,000 services or 100,000 endpoints.
  auto most = opts.background + opts.puts + opts.warmup + 100 +
              std::max(opts.sync_services, size_t{1000});
  sd.limits.max_services =
      std::max<uint32_t>(sd.limits.max_services, static_cast<uint32_t>(most));
  sd.limits.max_endpoints = std::max<uint32_t>(sd.limits.max_endpoints,
                                               static_cast<uint32_t>(3 * most));
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
        etcd_http http{opts.etcd, opts.tcp_nodelay};
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
  etcd_http http{opts.etcd, opts.tcp_nodelay};
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

/// get_service_entry(id) where the facade has it (the cheap per-service
/// read), else get_service(id) (a copy; before issue 14).
template <class D, class = void>
struct has_service_entry : std::false_type {};
template <class D>
struct has_service_entry<
    D, std::void_t<decltype(std::declval<const D&>().get_service_entry(
           std::string{}))>> : std::true_type {};

template <class D>
bool visible_in_process(const D& discovery, const std::string& id) {
  if constexpr (has_service_entry<D>::value)
    return discovery.get_service_entry(id) != nullptr;
  else
    return discovery.get_service(id).has_value();
}

/// CPU (ns) and context switches at one moment: this process, the
/// benchmark's own threads in it, and etcd.
struct cpu_sample {
  int64_t process = 0, bench_threads = 0, etcd = 0;
  long switches = 0;

  static cpu_sample take(const std::vector<pid_t>& bench_tids, long etcd_pid) {
    return {orasi::bench::proc::process_cpu_ns(),
            orasi::bench::proc::cpu_ns(bench_tids),
            etcd_pid > 0 ? orasi::bench::proc::other_process_cpu_ns(etcd_pid)
                         : 0,
            orasi::bench::proc::context_switches()};
  }
};

boost::json::object run_propagation(const bench_options& opts) {
  namespace proc = orasi::bench::proc;
  auto services_prefix = opts.prefix + "/services/";
  etcd_http http{opts.etcd, opts.tcp_nodelay};
  http.delete_prefix(services_prefix);
  auto load_started = steady::now();
  if (opts.background > 0)
    load_services(opts, opts.prefix, "b", opts.background);
  auto load_time = steady::now() - load_started;

  ::malloc_trim(0);
  auto rss_before = proc::rss_bytes();
  orasi::ServiceDiscovery discovery{etcd_config(opts, opts.prefix)};
  auto start_began = steady::now();
  discovery.start();
  auto start_time = steady::now() - start_began;
  ::malloc_trim(0);
  auto rss_started = proc::rss_bytes();
  orasi::AdminServer admin{discovery, "127.0.0.1:0"};
  admin.start();

  arrivals seen;
  auto subscription =
      discovery.subscribe([&seen](const orasi::SnapshotPtr& snapshot) {
        seen.on_snapshot(*snapshot);
      });
  etcdctl_watch etcdctl_watcher{opts.etcdctl, opts.etcd, services_prefix, seen};
  gateway_watch gateway_watcher{opts.etcd, services_prefix, seen};
  auto admin_client = std::make_shared<admin_probe>(admin.port());
  std::optional<poller> read_poller, admin_poller;
  read_poller.emplace(orasi_read, seen, std::chrono::microseconds(opts.poll_us),
                      [&discovery](const std::string& id) {
                        return visible_in_process(discovery, id);
                      });
  admin_poller.emplace(
      admin_get, seen, std::chrono::microseconds(opts.poll_us),
      [admin_client](const std::string& id) { return (*admin_client)(id); });
  // Declared after the pollers: on any exit, ends their waits before they
  // are joined.
  struct stop_on_exit {
    arrivals& sink;
    ~stop_on_exit() { sink.stop(); }
  } stop_pollers{seen};

  std::mt19937 rng{42};
  std::uniform_int_distribution<long> pause_us{0, opts.max_pause_us};
  auto timeout = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(opts.timeout_s));
  std::vector<double> put_us;
  std::array<observed, observers> latencies;
  // Puts service `i` as `id` and waits for every observer (or the
  // timeout); true if both watches saw it. Records the times when `record`.
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
    return sightings[etcdctl].has_value() && sightings[gateway].has_value();
  };

  // etcdctl prints nothing when its watch is created, and a put made before
  // a watch exists is not replayed to it: put until both watches see one
  // (orasi may take longer than the 200 ms allowed here: it is waited for
  // by the warm-up puts after these).
  size_t warm = 0;
  for (bool ready = false; !ready; ++warm) {
    if (warm == 50)
      throw std::runtime_error("the watches saw none of 50 puts");
    ready = put_and_wait(format_id("w", warm), warm,
                         std::chrono::milliseconds(200), false);
  }
  for (size_t i = 0; i < opts.warmup; ++i, ++warm)
    put_and_wait(format_id("w", warm), warm, timeout, false);

  std::vector<pid_t> bench_tids{
      proc::this_thread_id(), read_poller->thread_id(),
      admin_poller->thread_id(), gateway_watcher.thread_id(),
      etcdctl_watcher.thread_id()};
  auto probes_before = admin_poller->probes();
  auto cpu_before = cpu_sample::take(bench_tids, opts.etcd_pid);
  auto started = steady::now();
  for (size_t i = 0; i < opts.puts; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
    put_and_wait(format_id("p", i), i, timeout, true);
  }
  auto elapsed = steady::now() - started;
  auto cpu_after = cpu_sample::take(bench_tids, opts.etcd_pid);
  auto admin_gets = admin_poller->probes() - probes_before;
  auto rss_end = proc::rss_bytes();
  seen.stop();
  read_poller.reset();
  admin_poller.reset();
  auto in_registry = discovery.snapshot()->services.size();
  auto metrics = discovery.backend_metrics();
  subscription.unsubscribe();
  admin.stop();
  discovery.stop();

  // The registry grows by one service per put: orasi's latency by quarter
  // of the run shows what the registry's size costs.
  boost::json::array quarters;
  for (size_t q = 0; q < 4; ++q) {
    auto begin = opts.puts * q / 4, end = opts.puts * (q + 1) / 4;
    quarters.push_back(
        {{"registry_services", opts.background + warm + end},
         {"orasi_us", to_json(latencies[orasi_callback].part(begin, end))},
         {"admin_us", to_json(latencies[admin_get].part(begin, end))},
         {"gateway_us", to_json(latencies[gateway].part(begin, end))}});
  }
  boost::json::object by_observer, misses, ratios;
  auto raw_p99 = latencies[etcdctl].all().p99;
  for (size_t who = 0; who < observers; ++who) {
    auto name = to_string(static_cast<observer>(who));
    by_observer[name] = to_json(latencies[who].all());
    misses[name] = latencies[who].misses();
    ratios[name] = raw_p99 > 0 ? latencies[who].all().p99 / raw_p99 : 0;
  }
  auto per_put = [&](int64_t ns) {
    return static_cast<double>(ns) / 1000 / static_cast<double>(opts.puts);
  };
  auto process_ns = cpu_after.process - cpu_before.process;
  auto bench_ns = cpu_after.bench_threads - cpu_before.bench_threads;
  double bg = static_cast<double>(std::max<size_t>(1, opts.background));
  return {{"puts", opts.puts},
          {"warmup_puts", warm},
          {"background_services", opts.background},
          {"background_load_s", seconds(load_time)},
          {"start_s", seconds(start_time)},
          {"services_in_registry_at_end", in_registry},
          {"elapsed_s", seconds(elapsed)},
          {"orasi_read_api", has_service_entry<orasi::ServiceDiscovery>::value
                                 ? "get_service_entry"
                                 : "get_service"},
          {"poll_us", opts.poll_us},
          {"put_rtt_us", to_json(summarize(put_us))},
          {"latency_us", std::move(by_observer)},
          {"p99_over_etcdctl_watch_p99", std::move(ratios)},
          {"misses", std::move(misses)},
          {"orasi_minus_etcdctl_us",
           to_json(latencies[orasi_callback].minus(latencies[etcdctl]))},
          {"admin_minus_etcdctl_us",
           to_json(latencies[admin_get].minus(latencies[etcdctl]))},
          {"by_quarter", std::move(quarters)},
          {"admin_gets_per_put",
           static_cast<double>(admin_gets) / static_cast<double>(opts.puts)},
          {"admin_errors", admin_client->errors()},
          // Process CPU minus the benchmark's threads (puts, watches, pollers):
          // orasi's actors, its etcd client and the admin server answering the
          // poller.
          {"orasi_cpu_us_per_put", per_put(process_ns - bench_ns)},
          {"bench_threads_cpu_us_per_put", per_put(bench_ns)},
          {"etcd_cpu_us_per_put", per_put(cpu_after.etcd - cpu_before.etcd)},
          {"context_switches_per_put",
           static_cast<double>(cpu_after.switches - cpu_before.switches) /
               static_cast<double>(opts.puts)},
          {"rss_before", rss_before},
          {"rss_after_start", rss_started},
          {"rss_at_end", rss_end},
          {"rss_bytes_per_background_service",
           static_cast<double>(rss_started - rss_before) / bg},
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
  etcd_http http{opts.etcd, opts.tcp_nodelay};
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
  etcd_http{opts.etcd, opts.tcp_nodelay}.delete_prefix(services_prefix);
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
      "          [--poll-us US] [--etcd-pid PID]\n"
      "Deletes and rewrites everything under the two prefixes.\n"
      "defaults: 1000 puts after 20 warm-up puts, 0 background services,\n"
      "10000 sync services, 5 runs, pauses 0-5000 us, timeout 5 s, 4 "
      "writers,\nTCP_NODELAY on the benchmark's own connections, the "
      "library's refresh\ninterval, prefixes /orasi and /orasi-sync, pollers "
      "100 us apart\n",
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
    else if (flag == "--poll-us")
      opts.poll_us = args.integer();
    else if (flag == "--etcd-pid")
      opts.etcd_pid = args.integer();
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
    auto& o = p->as_object();
    std::fprintf(stderr,
                 "propagation: %.0f puts, %.0f background services (loaded "
                 "in %.1f s, start() %.2f s), %.0f in the registry at the "
                 "end, %.1f s\n",
                 number(*p, "puts"), number(*p, "background_services"),
                 number(*p, "background_load_s"), number(*p, "start_s"),
                 number(*p, "services_in_registry_at_end"),
                 number(*p, "elapsed_s"));
    print_latencies("PUT round trip", o.at("put_rtt_us"));
    for (size_t who = 0; who < observers; ++who) {
      auto name = to_string(static_cast<observer>(who));
      print_latencies(name, o.at("latency_us").at(name));
      std::fprintf(stderr,
                   "  %-24s p99 / etcdctl watch p99 %.2f, misses %.0f\n", "",
                   number(o.at("p99_over_etcdctl_watch_p99"), name),
                   number(o.at("misses"), name));
    }
    print_latencies("orasi_callback - etcdctl", o.at("orasi_minus_etcdctl_us"));
    print_latencies("admin_get - etcdctl", o.at("admin_minus_etcdctl_us"));
    for (const auto& quarter : o.at("by_quarter").as_array())
      print_latencies("admin, registry <= " +
                          std::to_string(static_cast<long>(
                              number(quarter, "registry_services"))),
                      quarter.at("admin_us"));
    std::fprintf(stderr,
                 "  per put: orasi CPU %.0f us, bench threads %.0f us, etcd "
                 "%.0f us, %.1f context switches, %.1f admin GETs\n"
                 "  RSS %.1f MB before start(), %.1f MB after (%.0f B per "
                 "background service), %.1f MB at the end\n",
                 number(*p, "orasi_cpu_us_per_put"),
                 number(*p, "bench_threads_cpu_us_per_put"),
                 number(*p, "etcd_cpu_us_per_put"),
                 number(*p, "context_switches_per_put"),
                 number(*p, "admin_gets_per_put"),
                 number(*p, "rss_before") / 1e6,
                 number(*p, "rss_after_start") / 1e6,
                 number(*p, "rss_bytes_per_background_service"),
                 number(*p, "rss_at_end") / 1e6);
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
