// The health-check target of the probe-capacity benchmark: a loopback HTTP
// server (tests/support's scripted server, answering 200 to everything) in
// its own process, so that its CPU never counts as the prober's. It records
// every request and, when stopped, prints how regularly each endpoint was
// checked. See bench/run_probe_capacity.sh and bench/RESULTS.md.
//
//   probe_target [--interval-ms MS] [--warmup-s S]
//
// Prints "port N" once listening. Signals:
//   SIGUSR1  the measurement window starts now (default: --warmup-s after
//            start);
//   SIGUSR2  the measurement window ends now (default: when stopped);
//   SIGTERM, SIGINT  print one JSON line about the window and exit.
// Requests are grouped by their first path segment ("/e17/health" -> "e17"),
// one group per endpoint. An interval is the time between two consecutive
// requests of one endpoint, both inside the window; its deviation is
// |interval - nominal| / nominal.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "bench/bench_cli.hpp"
#include "tests/support/http_test_server.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct options {
  double interval_ms = 1000; // nominal check interval
  double warmup_s = 5;       // window start unless SIGUSR1 comes
};

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--interval-ms MS] [--warmup-s S]\n"
               "prints \"port N\", then serves 200 on 127.0.0.1 until "
               "SIGTERM/SIGINT;\nSIGUSR1 starts and SIGUSR2 ends the "
               "measurement window\n",
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
    else
      return false;
    return true;
  });
  if (opts.interval_ms <= 0 || opts.warmup_s < 0)
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

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
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

/// What the server looked like at one moment.
struct mark {
  steady::time_point at;
  double cpu = 0;
  size_t accepted = 0;
};

mark take_mark(const orasi::test::http_test_server& server) {
  return mark{steady::now(), cpu_seconds(), server.connections_accepted()};
}

void print_report(const orasi::test::http_test_server& server,
                  const options& opts, const mark& begin, const mark& end) {
  auto requests = server.recorded_requests();
  std::unordered_map<std::string, std::vector<steady::time_point>> arrivals;
  size_t in_window = 0;
  for (auto& request : requests) {
    if (request.at < begin.at || request.at > end.at)
      continue;
    ++in_window;
    arrivals[first_segment(request.target)].push_back(request.at);
  }
  std::vector<double> deviations;
  std::vector<double> intervals_ms;
  deviations.reserve(in_window);
  intervals_ms.reserve(in_window);
  for (auto& [endpoint, times] : arrivals) {
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
  double window = seconds_between(begin.at, end.at);
  std::printf(
      "{\"requests\":%zu,\"requests_total\":%zu,\"endpoints\":%zu,"
      "\"window_s\":%.3f,\"requests_per_s\":%.1f,"
      "\"connections_accepted\":%zu,\"open_connections\":%zu,"
      "\"cpu_s\":%.3f,\"nominal_ms\":%.1f,\"intervals\":%zu,"
      "\"interval_ms_min\":%.1f,\"interval_ms_p50\":%.1f,"
      "\"interval_ms_max\":%.1f,\"dev_p50\":%.4f,\"dev_p99\":%.4f,"
      "\"dev_max\":%.4f,\"outside_10pct\":%.5f,\"outside_20pct\":%.5f}\n",
      in_window, requests.size(), arrivals.size(), window,
      window > 0 ? static_cast<double>(in_window) / window : 0.0,
      end.accepted - begin.accepted, server.open_connections(),
      end.cpu - begin.cpu, opts.interval_ms, deviations.size(),
      intervals_ms.empty() ? 0.0 : intervals_ms.front(),
      quantile(intervals_ms, 0.50),
      intervals_ms.empty() ? 0.0 : intervals_ms.back(),
      quantile(deviations, 0.50), quantile(deviations, 0.99),
      deviations.empty() ? 0.0 : deviations.back(), outside(0.10),
      outside(0.20));
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  raise_fd_limit();
  // Blocked before the server's thread starts, so that it inherits the
  // mask and every signal reaches sigwait() below.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT})
    sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  orasi::test::http_test_server_options server_options;
  server_options.behavior = orasi::test::server_behavior::answer(200);
  server_options.record_requests = true;
  orasi::test::http_test_server server{server_options};
  auto started = steady::now();
  std::printf("port %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  mark begin = take_mark(server);
  begin.at = started + std::chrono::duration_cast<steady::duration>(
                           std::chrono::duration<double>(opts.warmup_s));
  bool begin_marked = false;
  bool end_marked = false;
  mark end;
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0)
      continue;
    if (sig == SIGUSR1) {
      begin = take_mark(server);
      begin_marked = true;
    } else if (sig == SIGUSR2) {
      end = take_mark(server);
      end_marked = true;
    } else {
      break;
    }
  }
  if (!end_marked)
    end = take_mark(server);
  if (!begin_marked) {
    // The window started after the warm-up, but the counters were read at
    // start: without a SIGUSR1 they cover the whole run.
    begin.cpu = 0;
    begin.accepted = 0;
  }
  print_report(server, opts, begin, end);
  return 0;
}
