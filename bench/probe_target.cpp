// The health-check target of the probe-capacity benchmark, in its own
// process so that its CPU never counts as the prober's. It records every
// request and, when stopped, prints how regularly each endpoint was
// checked. See bench/run_probe_capacity.sh and bench/RESULTS.md.
//
//   probe_target [--interval-ms MS] [--warmup-s S]
//                [--addresses N [--hanging-addresses M]
//                 [--addresses-per-shard K]]
//
// Two layouts:
//   single (default)  one listener on 127.0.0.1 (tests/support's scripted
//                     server, answering 200 to everything); requests are
//                     grouped by their first path segment ("/e17/health"
//                     -> "e17"), one group per endpoint;
//   distinct          --addresses N: one listener on each of N loopback
//                     addresses 127.1.x.y, all on one port (see
//                     bench/loopback_addresses.hpp and loopback_fleet.hpp),
//                     answering 200; requests are grouped by the address
//                     they came in on. --hanging-addresses M adds M
//                     addresses 127.2.x.y that read requests and never
//                     answer (not counted below).
//
// Prints "port N" once listening. Signals:
//   SIGUSR1  the measurement window starts now (default: --warmup-s after
//            start);
//   SIGUSR2  the measurement window ends now (default: when stopped);
//   SIGTERM, SIGINT  print one JSON line about the window and exit.
// An interval is the time between two consecutive requests of one
// endpoint, both inside the window; its deviation is
// |interval - nominal| / nominal.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "bench/bench_cli.hpp"
#include "bench/loopback_fleet.hpp"
#include "bench/proc_stats.hpp"
#include "tests/support/http_test_server.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct options {
  double interval_ms = 1000; // nominal check interval
  double warmup_s = 5;       // window start unless SIGUSR1 comes
  size_t addresses = 0;      // distinct layout when > 0
  size_t hanging_addresses = 0;
  size_t addresses_per_shard = 8000;
};

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--interval-ms MS] [--warmup-s S]\n"
               "          [--addresses N [--hanging-addresses M]\n"
               "           [--addresses-per-shard K]]\n"
               "prints \"port N\", then serves 200 on 127.0.0.1 (or on N "
               "addresses 127.1.x.y)\nuntil SIGTERM/SIGINT; SIGUSR1 starts "
               "and SIGUSR2 ends the measurement window\n",
               program);
  std::exit(status);
}

options parse_args(int argc, char** argv) {
  options opts;
  orasi::bench::cli_args args{argc, argv, usage};
  args.parse([&](const std::string& flag) {
    if (flag == "--interval-ms")
      opts.interval_ms = args.real();
    else if (flag == "--warmup-s")
      opts.warmup_s = args.real();
    else if (flag == "--addresses")
      opts.addresses = static_cast<size_t>(args.integer());
    else if (flag == "--hanging-addresses")
      opts.hanging_addresses = static_cast<size_t>(args.integer());
    else if (flag == "--addresses-per-shard")
      opts.addresses_per_shard = static_cast<size_t>(args.integer());
    else
      return false;
    return true;
  });
  if (opts.interval_ms <= 0 || opts.warmup_s < 0 ||
      opts.addresses_per_shard == 0 ||
      (opts.hanging_addresses > 0 && opts.addresses == 0))
    args.fail();
  return opts;
}

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

double seconds_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

/// "/e17/health" -> "e17"; the whole target if it has one segment only.
std::string first_segment(const std::string& target) {
  size_t begin = target.empty() || target[0] != '/' ? 0 : 1;
  size_t end = target.find_first_of("/?", begin);
  return target.substr(begin, end == std::string::npos ? end : end - begin);
}

/// The value at quantile q of sorted `xs` (nearest rank); 0 if empty.
double quantile(const std::vector<double>& xs, double q) {
  if (xs.empty())
    return 0;
  auto rank =
      static_cast<size_t>(std::ceil(q * static_cast<double>(xs.size())));
  return xs[std::min(xs.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// What one measurement window saw, whichever the layout.
struct window_record {
  /// Arrival times per endpoint, in order, inside the window only.
  std::vector<std::vector<steady::time_point>> arrivals;
  size_t in_window = 0;      // requests inside the window
  size_t requests_total = 0; // requests over the whole run
  size_t accepted = 0;       // connections accepted in the window
  size_t open_connections = 0;
  double cpu_s = 0;
  double window_s = 0;
  std::string extra; // the layout's own JSON fields, each after a comma
};

/// The window's edges, from the signals (see the header).
struct window_marks {
  steady::time_point begin;
  steady::time_point end;
  bool begin_marked = false;
  bool end_marked = false;

  bool contains(steady::time_point t) const { return t >= begin && t <= end; }
};

/// Waits for SIGTERM/SIGINT; calls on_signal(SIGUSR1 or SIGUSR2) at each
/// mark, right after taking its time.
template <class OnSignal>
window_marks wait_for_stop(const sigset_t& signals, const options& opts,
                           steady::time_point started, OnSignal on_signal) {
  window_marks marks;
  marks.begin = started + std::chrono::duration_cast<steady::duration>(
                              std::chrono::duration<double>(opts.warmup_s));
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0)
      continue;
    if (sig == SIGUSR1) {
      marks.begin = steady::now();
      marks.begin_marked = true;
    } else if (sig == SIGUSR2) {
      marks.end = steady::now();
      marks.end_marked = true;
    } else {
      break;
    }
    on_signal(sig);
  }
  if (!marks.end_marked)
    marks.end = steady::now();
  return marks;
}

void print_report(const window_record& record, const options& opts) {
  std::vector<double> deviations;
  std::vector<double> intervals_ms;
  deviations.reserve(record.in_window);
  intervals_ms.reserve(record.in_window);
  size_t endpoints = 0;
  for (auto& times : record.arrivals) {
    endpoints += times.empty() ? 0 : 1;
    for (size_t i = 1; i < times.size(); ++i) {
      double ms = 1e3 * seconds_between(times[i - 1], times[i]);
      intervals_ms.push_back(ms);
      deviations.push_back(std::fabs(ms - opts.interval_ms) / opts.interval_ms);
    }
  }
  std::sort(deviations.begin(), deviations.end());
  std::sort(intervals_ms.begin(), intervals_ms.end());
  auto outside = [&](double bound) {
    if (deviations.empty())
      return 0.0;
    auto first = std::upper_bound(deviations.begin(), deviations.end(), bound);
    return static_cast<double>(deviations.end() - first) /
           static_cast<double>(deviations.size());
  };
  double window = record.window_s;
  std::printf(
      "{\"requests\":%zu,\"requests_total\":%zu,\"endpoints\":%zu,"
      "\"window_s\":%.3f,\"requests_per_s\":%.1f,"
      "\"connections_accepted\":%zu,\"open_connections\":%zu,"
      "\"cpu_s\":%.3f,\"nominal_ms\":%.1f,\"intervals\":%zu,"
      "\"interval_ms_min\":%.1f,\"interval_ms_p50\":%.1f,"
      "\"interval_ms_max\":%.1f,\"dev_p50\":%.4f,\"dev_p99\":%.4f,"
      "\"dev_max\":%.4f,\"outside_10pct\":%.5f,\"outside_20pct\":%.5f%s}\n",
      record.in_window, record.requests_total, endpoints, window,
      window > 0 ? static_cast<double>(record.in_window) / window : 0.0,
      record.accepted, record.open_connections, record.cpu_s, opts.interval_ms,
      deviations.size(), intervals_ms.empty() ? 0.0 : intervals_ms.front(),
      quantile(intervals_ms, 0.50),
      intervals_ms.empty() ? 0.0 : intervals_ms.back(),
      quantile(deviations, 0.50), quantile(deviations, 0.99),
      deviations.empty() ? 0.0 : deviations.back(), outside(0.10),
      outside(0.20), record.extra.c_str());
  std::fflush(stdout);
}

void print_port(uint16_t port) {
  std::printf("port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
}

/// The single layout: one scripted server on 127.0.0.1.
window_record run_single(const options& opts, const sigset_t& signals) {
  orasi::test::http_test_server_options server_options;
  server_options.behavior = orasi::test::server_behavior::answer(200);
  server_options.record_requests = true;
  orasi::test::http_test_server server{server_options};
  auto started = steady::now();
  print_port(server.port());
  // Without a SIGUSR1 the counters cover the whole run.
  double cpu0 = 0, cpu1 = 0;
  size_t accepted0 = 0, accepted1 = 0;
  auto marks = wait_for_stop(signals, opts, started, [&](int sig) {
    (sig == SIGUSR1 ? cpu0 : cpu1) = orasi::bench::proc::process_cpu_seconds();
    (sig == SIGUSR1 ? accepted0 : accepted1) = server.connections_accepted();
  });
  if (!marks.end_marked) {
    cpu1 = orasi::bench::proc::process_cpu_seconds();
    accepted1 = server.connections_accepted();
  }
  window_record record;
  auto requests = server.recorded_requests();
  std::unordered_map<std::string, size_t> index;
  for (auto& request : requests) {
    if (!marks.contains(request.at))
      continue;
    ++record.in_window;
    auto [it, added] =
        index.emplace(first_segment(request.target), record.arrivals.size());
    if (added)
      record.arrivals.emplace_back();
    record.arrivals[it->second].push_back(request.at);
  }
  record.requests_total = requests.size();
  record.accepted = accepted1 - accepted0;
  record.open_connections = server.open_connections();
  record.cpu_s = cpu1 - cpu0;
  record.window_s = seconds_between(marks.begin, marks.end);
  record.extra = ",\"layout\":\"single\"";
  return record;
}

/// The distinct layout: shard processes on N (+ M hanging) addresses.
window_record run_distinct(const options& opts, const sigset_t& signals) {
  orasi::bench::fleet_options fleet_options;
  fleet_options.answering = opts.addresses;
  fleet_options.hanging = opts.hanging_addresses;
  fleet_options.addresses_per_shard = opts.addresses_per_shard;
  orasi::bench::loopback_fleet fleet{fleet_options};
  auto started = steady::now();
  print_port(fleet.port());
  auto marks = wait_for_stop(signals, opts, started,
                             [&](int sig) { fleet.forward(sig); });
  auto shards = fleet.shards();
  auto report = fleet.stop();
  window_record record;
  record.arrivals.resize(opts.addresses);
  auto at = [](int64_t ns) {
    return steady::time_point{std::chrono::duration_cast<steady::duration>(
        std::chrono::nanoseconds{ns})};
  };
  // Each endpoint's requests come from one shard, in order.
  for (auto& request : report.requests) {
    if (!marks.contains(at(request.at_ns)))
      continue;
    ++record.in_window;
    record.arrivals[request.endpoint].push_back(at(request.at_ns));
  }
  for (auto accepted : report.accepts_ns)
    if (!marks.begin_marked || marks.contains(at(accepted)))
      ++record.accepted;
  record.requests_total = report.requests.size();
  record.open_connections = report.open_connections;
  record.cpu_s = report.cpu_s;
  record.window_s = seconds_between(marks.begin, marks.end);
  record.extra =
      ",\"layout\":\"distinct\",\"addresses\":" +
      std::to_string(opts.addresses) +
      ",\"hanging_addresses\":" + std::to_string(opts.hanging_addresses) +
      ",\"shards\":" + std::to_string(shards) +
      ",\"accept_errors\":" + std::to_string(report.accept_errors) +
      ",\"hanging_requests\":" + std::to_string(report.hanging_requests);
  return record;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  raise_fd_limit();
  // Blocked before the server's thread (or the shards) start, so that they
  // inherit the mask and every signal reaches sigwait() (or the shards'
  // signalfd).
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT})
    sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    auto record = opts.addresses > 0 ? run_distinct(opts, signals)
                                     : run_single(opts, signals);
    print_report(record, opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
