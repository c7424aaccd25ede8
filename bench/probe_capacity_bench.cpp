// Probe-capacity benchmark (health checking): what active health checks of N
// endpoints cost the process that runs them. One orasi::ServiceDiscovery on
// the static backend with N endpoints (N/10 services of 10 endpoints each,
// on an external probe_target), all checked every interval. Two layouts:
// every endpoint http://127.0.0.1:PORT/eI (one host:port for all), or with
// --distinct-addresses each at its own loopback address,
// http://127.1.x.y:PORT/health (bench/loopback_addresses.hpp; the target
// runs with --addresses N). It waits until every endpoint is Healthy, then
// measures a steady window: process CPU per 1,000 attempts, RSS per
// endpoint, context switches of all threads, and the kernel's TCP socket
// counts (/proc/net/sockstat) before the discovery was built and at the
// window's end. Prints one JSON line.
//
// --blackholed M adds M endpoints that read each request and never answer:
// the target then shows whether hanging checks delay the healthy ones
// (fairness). They are on an in-process server, or with
// --distinct-addresses at 127.2.x.y on the target (--hanging-addresses M).
//
// --detect adds M endpoints on an in-process server, registered one by one
// over one interval so that their checks are spread evenly over it; once
// everything is Healthy, that server starts answering 503 and the benchmark
// measures, per endpoint, the time until it leaves the routable view
// (snapshot.healthy), against the bound failure_threshold x interval +
// timeout.
//
// See bench/run_probe_capacity.sh and bench/RESULTS.md.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "bench/bench_cli.hpp"
#include "bench/loopback_addresses.hpp"
#include "bench/proc_stats.hpp"
#include "messages/type_registration.hpp"
#include "runtime/service_discovery.hpp"
#include "tests/support/http_test_server.hpp"

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct bench_options {
  uint16_t port = 0;               // the probe_target's port
  size_t endpoints = 1000;         // N, a multiple of 10
  bool keep_alive = true;          // health_check.keep_alive
  bool distinct_addresses = false; // an address per endpoint (127.1.x.y)
  double window_s = 20;            // measured steady window
  double settle_s = 2;             // after all Healthy, before the window
  long interval_ms = 1000;         // health_check.interval
  long fast_interval_ms = 1000;    // health_check.fast_interval
  long timeout_ms = 2000;          // health_check.timeout
  uint32_t jitter_percent = 10;
  uint32_t success_threshold = 2;
  uint32_t failure_threshold = 3;
  uint32_t retries = 3;
  size_t blackholed = 0;        // endpoints that never answer (fairness)
  bool detect = false;          // measure detection latency instead
  size_t detect_endpoints = 50; // M
  bool fail_blackhole = false;  // fail by never answering (not with a 503)
  pid_t target_pid = 0;         // gets SIGUSR1/SIGUSR2 around the window
  double healthy_timeout_s = 300;
  std::string label;
  // Experiments with CAF's scheduler: when either is set, the discovery is
  // embedded in a host actor system configured so (otherwise it runs on its
  // own system with CAF's defaults, as ServiceDiscovery(config) does).
  size_t caf_threads = 0; // scheduler.max-threads; 0 = CAF's default
  /// Polls an idle worker makes (50 us apart) before it sleeps on its
  /// condition variable, instead of CAF's 100 spinning + 500 sleeping ones;
  /// -1 = CAF's default. --caf-quiet-poll is 0.
  long caf_moderate_polls = -1;
};

// -- measurements -------------------------------------------------------------

/// Voluntary and involuntary context switches of the whole process, ended
/// threads included (getrusage), beside the per-thread sum of /proc.
orasi::bench::proc::switch_counts rusage_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {usage.ru_nvcsw, usage.ru_nivcsw};
}

double cpu_seconds(bool user, bool system) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return (user ? seconds(usage.ru_utime) : 0.0) +
         (system ? seconds(usage.ru_stime) : 0.0);
}

/// What malloc holds, over all its arenas: bytes in use by the program
/// (with each chunk's own overhead) and bytes taken from the system. RSS
/// per endpoint minus in-use per endpoint is what malloc keeps free
/// (fragmentation, per-thread arenas) plus what is not heap.
struct heap_figures {
  size_t in_use = 0;
  size_t system = 0;
};

heap_figures heap_now() {
  auto info = mallinfo2();
  return {info.uordblks + info.hblkhd, info.arena + info.hblkhd};
}

/// The number in a field of /proc/self/status (VmRSS in kB, Threads), 0 if
/// missing.
long proc_status(const char* field) {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  size_t length = std::strlen(field);
  while (std::getline(status, line))
    if (line.compare(0, length, field) == 0 && line.size() > length &&
        line[length] == ':')
      return std::strtol(line.c_str() + length + 1, nullptr, 10);
  return 0;
}

size_t open_fds() {
  size_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++count;
    closedir(dir);
  }
  return count > 0 ? count - 1 : 0; // the directory's own descriptor
}

/// "timeout 3, refused 5" for the non-zero failure reasons.
std::string failure_reasons(const orasi::ProbeMetrics& metrics) {
  std::string result;
  for (auto& [reason, count] : metrics.attempts_failed)
    if (count > 0)
      result +=
          (result.empty() ? "" : ", ") + reason + " " + std::to_string(count);
  return result.empty() ? "none" : result;
}

/// A plain blocking connect to address:port (host order), bypassing the
/// library: "ok" or the error (a diagnostic when no endpoint ever turns
/// Healthy).
std::string try_connect(uint32_t host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return std::string("socket: ") + std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(host);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  std::string result = rc == 0 ? "ok" : std::strerror(errno);
  ::close(fd);
  return result;
}

uint64_t failed_attempts(const orasi::ProbeMetrics& metrics) {
  uint64_t result = 0;
  for (auto& [reason, count] : metrics.attempts_failed)
    result += count;
  return result;
}

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  std::fprintf(stderr, "open-file limit %llu\n",
               static_cast<unsigned long long>(limit.rlim_cur));
}

// -- data ---------------------------------------------------------------------

std::string format(const char* fmt, size_t value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, value);
  return buffer;
}

/// http://127.0.0.1:<port>/<path_prefix>I: the target tells the endpoints
/// apart by path.
std::string shared_address_url(uint16_t port, const std::string& path_prefix,
                               size_t i) {
  return "http://127.0.0.1:" + std::to_string(port) + "/" + path_prefix +
         std::to_string(i);
}

/// http://127.S.x.y:<port>/health: the target tells them apart by address.
std::string distinct_address_url(uint16_t port, orasi::bench::address_set set,
                                 size_t i) {
  return "http://" +
         orasi::bench::dotted(orasi::bench::distinct_address(set, i)) + ":" +
         std::to_string(port) + "/health";
}

/// `count` endpoints as services of 10: ids "<prefix>-0000"..; endpoint I
/// at url(I).
template <class Url>
void add_services(orasi::ServiceMap& services, const std::string& prefix,
                  size_t count, Url url) {
  for (size_t first = 0; first < count; first += 10) {
    orasi::ServiceInfo service;
    service.name = prefix + format("-%zu", first / 10);
    for (size_t i = first; i < std::min(count, first + 10); ++i)
      service.endpoints.push_back(orasi::ServiceEndpoint{
          url(i), 1, orasi::EndpointHealthStatus::Unknown, {}});
    services.emplace(prefix + format("-%04zu", first / 10), std::move(service));
  }
}

orasi::GatewayConfig make_config(const bench_options& opts,
                                 uint16_t blackhole_port) {
  orasi::GatewayConfig config;
  auto& sd = config.service_discovery;
  sd.backend = orasi::ServiceDiscoveryBackend::Static;
  auto& hc = sd.health_check;
  hc.interval = milliseconds(opts.interval_ms);
  hc.fast_interval = milliseconds(opts.fast_interval_ms);
  hc.timeout = milliseconds(opts.timeout_ms);
  hc.jitter_percent = opts.jitter_percent;
  hc.success_threshold = opts.success_threshold;
  hc.failure_threshold = opts.failure_threshold;
  hc.retries = opts.retries;
  hc.keep_alive = opts.keep_alive;
  using orasi::bench::address_set;
  if (opts.distinct_addresses) {
    add_services(sd.services, "svc", opts.endpoints, [&](size_t i) {
      return distinct_address_url(opts.port, address_set::answering, i);
    });
    add_services(sd.services, "hang", opts.blackholed, [&](size_t i) {
      return distinct_address_url(opts.port, address_set::hanging, i);
    });
  } else {
    add_services(sd.services, "svc", opts.endpoints, [&](size_t i) {
      return shared_address_url(opts.port, "e", i);
    });
    add_services(sd.services, "hang", opts.blackholed, [&](size_t i) {
      return shared_address_url(blackhole_port, "h", i);
    });
  }
  return config;
}

size_t healthy_endpoints(const orasi::ServiceDiscovery& discovery) {
  size_t result = 0;
  discovery.with_snapshot([&](const orasi::RegistrySnapshot& snapshot) {
    for (auto& [id, service] : snapshot.healthy)
      result += service.endpoints.size();
  });
  return result;
}

/// Polls every 10 ms until `expected` endpoints are Healthy; the seconds
/// that took, or a negative number on timeout.
double wait_all_healthy(const orasi::ServiceDiscovery& discovery,
                        size_t expected, steady::time_point since,
                        double timeout_s, uint32_t host, uint16_t port) {
  size_t last_reported = 0;
  auto next_report = steady::now() + std::chrono::seconds(5);
  for (;;) {
    size_t healthy = healthy_endpoints(discovery);
    if (healthy >= expected)
      return seconds_since(since);
    // Nothing passing after 30 s is a broken setup, not a slow start.
    if (seconds_since(since) > timeout_s ||
        (healthy == 0 && seconds_since(since) > 30)) {
      std::fprintf(stderr,
                   "only %zu of %zu endpoints Healthy after %.0f s; failed "
                   "attempts: %s\n",
                   healthy, expected, seconds_since(since),
                   failure_reasons(discovery.probe_metrics()).c_str());
      return -1;
    }
    if (steady::now() >= next_report) {
      auto metrics = discovery.probe_metrics();
      std::fprintf(stderr,
                   "  %.1f s: %zu/%zu Healthy (+%zu), attempts %llu, "
                   "failed %llu (%s), cpu %.1f s\n",
                   seconds_since(since), healthy, expected,
                   healthy - last_reported,
                   static_cast<unsigned long long>(metrics.attempts_sent),
                   static_cast<unsigned long long>(failed_attempts(metrics)),
                   failure_reasons(metrics).c_str(), cpu_seconds(true, true));
      if (healthy == 0)
        std::fprintf(stderr, "  a plain connect to %s:%u: %s\n",
                     orasi::bench::dotted(host).c_str(),
                     static_cast<unsigned>(port),
                     try_connect(host, port).c_str());
      last_reported = healthy;
      next_report += std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
}

void signal_target(const bench_options& opts, int sig) {
  if (opts.target_pid > 0 && kill(opts.target_pid, sig) != 0)
    std::fprintf(stderr, "cannot signal the target %d: %s\n",
                 static_cast<int>(opts.target_pid), std::strerror(errno));
}

// -- the two modes ------------------------------------------------------------

struct startup {
  double start_s = 0;     // start() until it returned
  double healthy_s = 0;   // start() until every endpoint was Healthy
  double cpu_s = 0;       // process CPU over that time
  long rss_base_kb = 0;   // before the ServiceDiscovery was built
  heap_figures heap_base; // at the same time
  orasi::bench::proc::tcp_sockstat sockstat_before; // at the same time
};

void print_common(const bench_options& opts, const startup& up) {
  std::printf("\"label\":\"%s\",\"endpoints\":%zu,\"services\":%zu,"
              "\"keep_alive\":%s,\"interval_ms\":%ld,\"fast_interval_ms\":%ld,"
              "\"timeout_ms\":%ld,\"jitter_percent\":%u,\"retries\":%u,"
              "\"success_threshold\":%u,\"failure_threshold\":%u,"
              "\"start_s\":%.3f,\"time_to_healthy_s\":%.3f,"
              "\"startup_cpu_s\":%.3f,\"rss_base_kb\":%ld,"
              "\"caf_threads\":%zu,\"caf_moderate_polls\":%ld,"
              "\"blackholed\":%zu,\"layout\":\"%s\"",
              opts.label.c_str(), opts.endpoints, (opts.endpoints + 9) / 10,
              opts.keep_alive ? "true" : "false", opts.interval_ms,
              opts.fast_interval_ms, opts.timeout_ms, opts.jitter_percent,
              opts.retries, opts.success_threshold, opts.failure_threshold,
              up.start_s, up.healthy_s, up.cpu_s, up.rss_base_kb,
              opts.caf_threads, opts.caf_moderate_polls, opts.blackholed,
              opts.distinct_addresses ? "distinct" : "single");
}

void measure_capacity(const bench_options& opts,
                      orasi::ServiceDiscovery& discovery, const startup& up) {
  std::this_thread::sleep_for(std::chrono::duration<double>(opts.settle_s));
  auto metrics0 = discovery.probe_metrics();
  auto switches0 = orasi::bench::proc::thread_switches();
  auto rusage_switches0 = rusage_switches();
  double user0 = cpu_seconds(true, false);
  double sys0 = cpu_seconds(false, true);
  auto t0 = steady::now();
  signal_target(opts, SIGUSR1);
  long rss_max = 0;
  auto window_end = t0 + std::chrono::duration_cast<steady::duration>(
                             std::chrono::duration<double>(opts.window_s));
  for (auto next = t0 + std::chrono::seconds(1); next < window_end;
       next += std::chrono::seconds(1)) {
    std::this_thread::sleep_until(next);
    rss_max = std::max(rss_max, proc_status("VmRSS"));
  }
  std::this_thread::sleep_until(window_end);
  signal_target(opts, SIGUSR2);
  double window = seconds_since(t0);
  double user = cpu_seconds(true, false) - user0;
  double sys = cpu_seconds(false, true) - sys0;
  auto switches1 = orasi::bench::proc::thread_switches();
  auto rusage_switches1 = rusage_switches();
  auto sockstat = orasi::bench::proc::read_tcp_sockstat();
  auto metrics1 = discovery.probe_metrics();
  long rss = proc_status("VmRSS");
  auto heap = heap_now();
  rss_max = std::max(rss_max, rss);
  auto attempts = metrics1.attempts_sent - metrics0.attempts_sent;
  auto failed = failed_attempts(metrics1) - failed_attempts(metrics0);
  double cpu = user + sys;
  std::printf("{\"mode\":\"capacity\",");
  print_common(opts, up);
  std::printf(
      ",\"window_s\":%.3f,\"attempts\":%llu,\"attempts_per_s\":%.1f,"
      "\"failed_attempts\":%llu,\"checks_failed\":%llu,\"transitions\":%llu,"
      "\"cpu_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
      "\"cpu_percent\":%.1f,\"cpu_s_per_1000_probes\":%.4f,"
      "\"rss_kb\":%ld,\"rss_max_kb\":%ld,\"rss_per_endpoint_bytes\":%.0f,"
      "\"open_fds\":%zu,\"threads\":%ld,\"healthy_at_end\":%zu,"
      "\"voluntary_switches\":%ld,\"involuntary_switches\":%ld,"
      "\"rusage_voluntary_switches\":%ld,"
      "\"rusage_involuntary_switches\":%ld,",
      window, static_cast<unsigned long long>(attempts),
      static_cast<double>(attempts) / window,
      static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(metrics1.checks_failed -
                                      metrics0.checks_failed),
      static_cast<unsigned long long>(metrics1.transitions -
                                      metrics0.transitions),
      cpu, user, sys, 100 * cpu / window,
      attempts > 0 ? 1000 * cpu / static_cast<double>(attempts) : 0.0, rss,
      rss_max,
      1024.0 * static_cast<double>(rss - up.rss_base_kb) /
          static_cast<double>(opts.endpoints),
      open_fds(), proc_status("Threads"), healthy_endpoints(discovery),
      switches1.voluntary - switches0.voluntary,
      switches1.involuntary - switches0.involuntary,
      rusage_switches1.voluntary - rusage_switches0.voluntary,
      rusage_switches1.involuntary - rusage_switches0.involuntary);
  auto print_sockstat = [](const char* name,
                           const orasi::bench::proc::tcp_sockstat& x) {
    std::printf("\"%s\":{\"inuse\":%ld,\"orphan\":%ld,\"tw\":%ld,"
                "\"alloc\":%ld,\"mem_pages\":%ld}",
                name, x.inuse, x.orphan, x.tw, x.alloc, x.mem_pages);
  };
  print_sockstat("sockstat_before", up.sockstat_before);
  std::printf(",");
  print_sockstat("sockstat_after", sockstat);
  auto per_endpoint = [&](size_t now, size_t base) {
    return (static_cast<double>(now) - static_cast<double>(base)) /
           static_cast<double>(opts.endpoints);
  };
  std::printf(",\"heap_in_use_per_endpoint_bytes\":%.0f,"
              "\"heap_system_per_endpoint_bytes\":%.0f",
              per_endpoint(heap.in_use, up.heap_base.in_use),
              per_endpoint(heap.system, up.heap_base.system));
  std::printf(",\"page_size\":%ld}\n", sysconf(_SC_PAGESIZE));
  std::fflush(stdout);
}

/// Whether endpoint `url` of service `id` is in the routable view.
bool routable(const orasi::RegistrySnapshot& snapshot, const std::string& id,
              const std::string& url) {
  auto service = snapshot.healthy.find(id);
  if (service == snapshot.healthy.end())
    return false;
  auto& endpoints = service->second.endpoints;
  return std::any_of(endpoints.begin(), endpoints.end(),
                     [&](const orasi::ServiceEndpoint& endpoint) {
                       return endpoint.url == url;
                     });
}

/// Registers M services "det-NN" of one endpoint each on `failing`, one
/// every interval / M: each endpoint's first check comes within the fast
/// interval after its registration, so their checks end up spread evenly
/// over the interval, and the failure below starts at a uniformly random
/// moment of each endpoint's schedule (at start-up they would all be in
/// phase). Returns false if they did not all turn Healthy.
bool register_staggered(const bench_options& opts,
                        orasi::ServiceDiscovery& discovery,
                        const orasi::test::http_test_server& failing) {
  auto step = std::chrono::duration<double>(
      static_cast<double>(opts.interval_ms) / 1e3 /
      static_cast<double>(opts.detect_endpoints));
  auto t0 = steady::now();
  for (size_t i = 0; i < opts.detect_endpoints; ++i) {
    std::this_thread::sleep_until(
        t0 + std::chrono::duration_cast<steady::duration>(step * i));
    orasi::ServiceInfo service;
    service.name = format("det-%zu", i);
    service.endpoints.push_back(orasi::ServiceEndpoint{
        "http://127.0.0.1:" + std::to_string(failing.port()) + "/d" +
            std::to_string(i),
        1,
        orasi::EndpointHealthStatus::Unknown,
        {}});
    discovery.register_service(format("det-%02zu", i), service);
  }
  double healthy_s =
      wait_all_healthy(discovery, opts.endpoints + opts.detect_endpoints, t0,
                       opts.healthy_timeout_s, INADDR_LOOPBACK, failing.port());
  std::fprintf(stderr,
               "  %zu endpoints registered over %.1f s, all Healthy %.2f s "
               "after the first\n",
               opts.detect_endpoints,
               static_cast<double>(opts.interval_ms) / 1e3, healthy_s);
  return healthy_s >= 0;
}

void measure_detection(const bench_options& opts,
                       orasi::ServiceDiscovery& discovery,
                       orasi::test::http_test_server& failing,
                       const startup& up) {
  if (!register_staggered(opts, discovery, failing))
    std::exit(1);
  std::this_thread::sleep_for(std::chrono::duration<double>(opts.settle_s));
  struct watched {
    std::string id;
    std::string url;
    double latency_s = -1; // until it left the routable view
  };
  std::vector<watched> endpoints;
  discovery.with_snapshot([&](const orasi::RegistrySnapshot& snapshot) {
    for (auto& [id, service] : snapshot.services)
      if (id.compare(0, 4, "det-") == 0)
        for (auto& endpoint : service.endpoints)
          endpoints.push_back(watched{id, endpoint.url});
  });
  double interval = static_cast<double>(opts.interval_ms) / 1e3;
  double fast =
      static_cast<double>(std::min(opts.fast_interval_ms, opts.interval_ms)) /
      1e3;
  double timeout = static_cast<double>(opts.timeout_ms) / 1e3;
  double jitter = opts.jitter_percent / 100.0;
  // The brief's bound, and the schedule's own worst case: the next regular
  // check starts within interval x (1 + jitter); a failing check lasts
  // 1 + retries attempts with 100 ms pauses between them for a 503, and
  // one attempt of `timeout` for a blackhole (an attempt that times out
  // ends its check); the next check starts a
  // fast interval after the previous one started, or when it ended if it
  // lasted longer (checks never overlap); then the registry's 10 ms batch
  // window.
  double bound = opts.failure_threshold * interval + timeout;
  const double retry_backoff = 0.1;
  double check_s = opts.fail_blackhole ? timeout : opts.retries * retry_backoff;
  double schedule_max =
      interval * (1 + jitter) +
      (opts.failure_threshold - 1) * std::max(fast * (1 + jitter), check_s) +
      check_s + 0.01;
  auto t0 = steady::now();
  failing.set_behavior(
      opts.fail_blackhole
          ? orasi::test::server_behavior::blackhole()
          : orasi::test::server_behavior::answer(503, "failing"));
  size_t left = endpoints.size();
  uint64_t seen_version = 0;
  double give_up = std::max(2 * bound, 1.5 * schedule_max) + 10;
  while (left > 0 && seconds_since(t0) < give_up) {
    discovery.with_snapshot([&](const orasi::RegistrySnapshot& snapshot) {
      if (snapshot.version == seen_version)
        return;
      seen_version = snapshot.version;
      double now = seconds_since(t0);
      for (auto& endpoint : endpoints)
        if (endpoint.latency_s < 0 &&
            !routable(snapshot, endpoint.id, endpoint.url)) {
          endpoint.latency_s = now;
          --left;
        }
    });
    std::this_thread::sleep_for(milliseconds(1));
  }
  std::vector<double> latencies;
  for (auto& endpoint : endpoints)
    if (endpoint.latency_s >= 0)
      latencies.push_back(endpoint.latency_s);
  std::sort(latencies.begin(), latencies.end());
  size_t over_bound = static_cast<size_t>(
      latencies.end() -
      std::upper_bound(latencies.begin(), latencies.end(), bound));
  double mean = 0;
  for (double x : latencies)
    mean += x / static_cast<double>(latencies.size());
  std::printf("{\"mode\":\"detect\",");
  print_common(opts, up);
  std::printf(",\"fail_with\":\"%s\",\"detect_endpoints\":%zu,"
              "\"detected\":%zu,"
              "\"latency_min_s\":%.3f,\"latency_mean_s\":%.3f,"
              "\"latency_p50_s\":%.3f,\"latency_p99_s\":%.3f,"
              "\"latency_max_s\":%.3f,\"bound_s\":%.3f,\"over_bound\":%zu,"
              "\"schedule_max_s\":%.3f,\"healthy_at_end\":%zu}\n",
              opts.fail_blackhole ? "blackhole" : "503", endpoints.size(),
              latencies.size(), latencies.empty() ? 0.0 : latencies.front(),
              mean, quantile(latencies, 0.5), quantile(latencies, 0.99),
              latencies.empty() ? 0.0 : latencies.back(), bound,
              over_bound + (endpoints.size() - latencies.size()), schedule_max,
              healthy_endpoints(discovery));
  std::fflush(stdout);
}

// -- setup --------------------------------------------------------------------

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(
      status == 0 ? stdout : stderr,
      "usage: %s --port P [--endpoints N] [--keep-alive on|off]\n"
      "          [--distinct-addresses]\n"
      "          [--window-s S] [--settle-s S] [--interval-ms MS]\n"
      "          [--fast-interval-ms MS] [--timeout-ms MS] [--jitter PCT]\n"
      "          [--success-threshold N] [--failure-threshold N]\n"
      "          [--retries N] [--detect] [--detect-endpoints M]\n"
      "          [--fail-with 503|blackhole] [--blackholed M]\n"
      "          [--target-pid PID] [--healthy-timeout-s S] [--label TEXT]\n"
      "          [--caf-threads N] [--caf-quiet-poll] [--caf-moderate-polls "
      "N]\n"
      "N endpoints on the probe_target at 127.0.0.1:P, 10 per service (with\n"
      "--distinct-addresses at 127.1.x.y:P, and the M blackholed ones at\n"
      "127.2.x.y:P: probe_target --addresses N --hanging-addresses M);\n"
      "defaults: N 1000, keep-alive on, window 20 s, interval 1 s, fast "
      "interval 1 s,\ntimeout 2 s, jitter 10%%, thresholds 2/3, 3 retries, "
      "M 50\n",
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
    if (flag == "--detect")
      opts.detect = true;
    else if (flag == "--distinct-addresses")
      opts.distinct_addresses = true;
    else if (flag == "--caf-quiet-poll")
      opts.caf_moderate_polls = 0;
    else if (flag == "--port")
      opts.port = static_cast<uint16_t>(args.integer());
    else if (flag == "--endpoints")
      opts.endpoints = static_cast<size_t>(args.integer());
    else if (flag == "--keep-alive")
      opts.keep_alive = choose(args, "on", "off");
    else if (flag == "--window-s")
      opts.window_s = args.real();
    else if (flag == "--settle-s")
      opts.settle_s = args.real();
    else if (flag == "--interval-ms")
      opts.interval_ms = args.integer();
    else if (flag == "--fast-interval-ms")
      opts.fast_interval_ms = args.integer();
    else if (flag == "--timeout-ms")
      opts.timeout_ms = args.integer();
    else if (flag == "--jitter")
      opts.jitter_percent = static_cast<uint32_t>(args.integer());
    else if (flag == "--success-threshold")
      opts.success_threshold = static_cast<uint32_t>(args.integer());
    else if (flag == "--failure-threshold")
      opts.failure_threshold = static_cast<uint32_t>(args.integer());
    else if (flag == "--retries")
      opts.retries = static_cast<uint32_t>(args.integer());
    else if (flag == "--fail-with")
      opts.fail_blackhole = choose(args, "blackhole", "503");
    else if (flag == "--blackholed")
      opts.blackholed = static_cast<size_t>(args.integer());
    else if (flag == "--detect-endpoints")
      opts.detect_endpoints = static_cast<size_t>(args.integer());
    else if (flag == "--target-pid")
      opts.target_pid = static_cast<pid_t>(args.integer());
    else if (flag == "--healthy-timeout-s")
      opts.healthy_timeout_s = args.real();
    else if (flag == "--caf-threads")
      opts.caf_threads = static_cast<size_t>(args.integer());
    else if (flag == "--caf-moderate-polls")
      opts.caf_moderate_polls = args.integer();
    else if (flag == "--label")
      opts.label = args.value();
    else
      return false;
    return true;
  });
  if (opts.port == 0 || opts.endpoints == 0 || opts.window_s <= 0 ||
      opts.interval_ms <= 0 || opts.detect_endpoints == 0 ||
      (opts.distinct_addresses && std::max(opts.endpoints, opts.blackholed) >
                                      orasi::bench::max_distinct_addresses))
    args.fail();
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  raise_fd_limit();
  // Every transition is logged at info: 10,000 lines at start-up.
  spdlog::set_level(spdlog::level::warn);

  startup up;
  up.rss_base_kb = proc_status("VmRSS");
  up.heap_base = heap_now();
  up.sockstat_before = orasi::bench::proc::read_tcp_sockstat();
  std::unique_ptr<orasi::test::http_test_server> failing;
  if (opts.detect)
    failing = std::make_unique<orasi::test::http_test_server>();
  std::unique_ptr<orasi::test::http_test_server> blackhole;
  if (opts.blackholed > 0 && !opts.distinct_addresses) {
    orasi::test::http_test_server_options hanging;
    hanging.behavior = orasi::test::server_behavior::blackhole();
    blackhole = std::make_unique<orasi::test::http_test_server>(hanging);
  }
  std::unique_ptr<caf::actor_system_config> host_config;
  std::unique_ptr<caf::actor_system> host;
  if (opts.caf_threads > 0 || opts.caf_moderate_polls >= 0) {
    host_config = std::make_unique<caf::actor_system_config>();
    orasi::add_message_types(*host_config);
    host_config->set("logger.file-verbosity", caf::atom("quiet"));
    host_config->set("logger.console-verbosity", caf::atom("quiet"));
    if (opts.caf_threads > 0)
      host_config->set("scheduler.max-threads", opts.caf_threads);
    if (opts.caf_moderate_polls >= 0) {
      // No aggressive (spinning) polling and few or no moderate ones (50 us
      // sleeps): an idle worker soon waits on its condition variable.
      host_config->set("work-stealing.aggressive-poll-attempts", size_t{0});
      host_config->set("work-stealing.moderate-poll-attempts",
                       static_cast<size_t>(opts.caf_moderate_polls));
    }
    host = std::make_unique<caf::actor_system>(*host_config);
  }
  std::unique_ptr<orasi::ServiceDiscovery> discovery;
  {
    // The config (with its services) is the caller's and dies here; only
    // the library's own copies stay counted.
    auto config = make_config(opts, blackhole ? blackhole->port() : 0);
    discovery = host ? std::make_unique<orasi::ServiceDiscovery>(*host, config)
                     : std::make_unique<orasi::ServiceDiscovery>(config);
  }
  size_t expected = opts.endpoints;
  std::fprintf(stderr,
               "%s: %zu endpoints on port %u (%s), keep-alive %s, interval "
               "%ld ms\n",
               opts.label.c_str(), expected, static_cast<unsigned>(opts.port),
               opts.distinct_addresses ? "an address each" : "127.0.0.1",
               opts.keep_alive ? "on" : "off", opts.interval_ms);
  double cpu0 = cpu_seconds(true, true);
  auto t0 = steady::now();
  discovery->start();
  up.start_s = seconds_since(t0);
  uint32_t first_host = opts.distinct_addresses
                            ? orasi::bench::distinct_address(
                                  orasi::bench::address_set::answering, 0)
                            : INADDR_LOOPBACK;
  up.healthy_s = wait_all_healthy(
      *discovery, expected, t0, opts.healthy_timeout_s, first_host, opts.port);
  up.cpu_s = cpu_seconds(true, true) - cpu0;
  if (up.healthy_s < 0)
    return 1;
  std::fprintf(stderr, "  all %zu Healthy after %.2f s (cpu %.2f s)\n",
               expected, up.healthy_s, up.cpu_s);
  if (opts.detect)
    measure_detection(opts, *discovery, *failing, up);
  else
    measure_capacity(opts, *discovery, up);
  auto t1 = steady::now();
  discovery.reset();
  std::fprintf(stderr, "  stopped in %.2f s\n", seconds_since(t1));
  return 0;
}
