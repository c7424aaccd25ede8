// orasi-discovery: runs service discovery stand-alone with the admin API.
//   orasi-discovery [--config FILE] [--log-level LEVEL] [--log-format FMT]
//                   [--admin-listen ADDR]
// SIGINT/SIGTERM stop cleanly; SIGHUP re-reads the static config file.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <time.h>

#include "admin/admin_cli.hpp"
#include "admin/admin_server.hpp"
#include "launcher/default_config.hpp"
#include "launcher/log_format.hpp"
#include "runtime/service_discovery.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct launcher_args {
  std::string config_file;         // empty: the embedded demo config
  std::string log_level;           // empty: the config's logging.level
  std::string log_format = "text"; // or "json": one JSON object per line
  std::string admin_listen;        // empty: the config's admin.listen
  bool print_default_config = false;
};

void print_usage(std::ostream& out) {
  out << "usage: orasi-discovery [--config FILE] [--log-level LEVEL]\n"
         "                       [--log-format text|json]\n"
         "                       [--admin-listen HOST:PORT]\n"
         "                       [--print-default-config]\n"
         "Without --config, runs an embedded demo config.\n"
         "Client commands (see `orasi-discovery services --help`):\n"
         "  services, register, deregister, watch\n"
         "Signals: SIGINT/SIGTERM stop, SIGHUP reloads the config file.\n";
}

/// Returns false (after printing why) if the arguments are unusable.
bool parse_args(int argc, char** argv, launcher_args& args, int& exit_code) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value_of = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::cerr << "orasi-discovery: " << arg << " needs a value\n";
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      print_usage(std::cout);
      exit_code = exit_ok;
      return false;
    }
    bool ok = true;
    if (arg == "--config")
      ok = value_of(args.config_file);
    else if (arg == "--log-level")
      ok = value_of(args.log_level);
    else if (arg == "--log-format") {
      ok = value_of(args.log_format);
      if (ok && !orasi::set_log_format(args.log_format)) {
        std::cerr << "orasi-discovery: --log-format must be text or json\n";
        ok = false;
      }
    } else if (arg == "--admin-listen")
      ok = value_of(args.admin_listen);
    else if (arg == "--print-default-config")
      args.print_default_config = true;
    else {
      std::cerr << "orasi-discovery: unknown argument " << arg << "\n";
      ok = false;
    }
    if (!ok) {
      print_usage(std::cerr);
      exit_code = exit_usage;
      return false;
    }
  }
  return true;
}

/// The demo lists the admin API itself as a service; keep that endpoint
/// right when --admin-listen moves the API (a random port 0 stays as is).
void point_demo_at_admin_api(orasi::GatewayConfig& config) {
  std::string host;
  uint16_t port = 0;
  auto self = config.service_discovery.services.find("orasi-admin-1");
  if (self == config.service_discovery.services.end() ||
      self->second.endpoints.empty() ||
      !orasi::parse_listen_address(config.admin.listen, host, port) ||
      port == 0)
    return;
  self->second.endpoints.front().url = "http://" + config.admin.listen;
}

orasi::GatewayConfig load_config(const launcher_args& args) {
  auto config =
      args.config_file.empty()
          ? orasi::GatewayConfig::from_json(orasi::default_launcher_config,
                                            "embedded default config")
          : orasi::GatewayConfig::from_file(args.config_file);
  if (!args.log_level.empty())
    config.logging.level = args.log_level;
  if (!args.admin_listen.empty())
    config.admin.listen = args.admin_listen;
  if (args.config_file.empty())
    point_demo_at_admin_api(config);
  config.validate(); // the overrides must be valid too
  return config;
}

/// Signals are blocked in every thread and taken here, synchronously, so no
/// async-signal-safety concerns reach the rest of the program.
sigset_t blocked_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  return signals;
}

/// A second SIGINT/SIGTERM during a shutdown that hangs ends the process.
void force_exit_on_next_signal(const sigset_t& signals) {
  std::thread{[signals] {
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) == 0 && signal != SIGHUP) {
        std::fputs("orasi-discovery: second signal, exiting now\n", stderr);
        std::_Exit(128 + signal);
      }
    }
  }}.detach();
}

void wait_for_shutdown(const sigset_t& signals,
                       orasi::ServiceDiscovery& discovery) {
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0)
      continue;
    if (signal != SIGHUP) {
      spdlog::info("received {}, shutting down (again to force)",
                   signal == SIGINT ? "SIGINT" : "SIGTERM");
      force_exit_on_next_signal(signals);
      return;
    }
    spdlog::info("received SIGHUP, reloading the config file");
    try {
      discovery.reload();
    } catch (const orasi::GatewayError& err) {
      spdlog::error("reload failed, keeping the previous services: {}",
                    err.what());
    }
  }
}

/// Keep-alive probes hold one socket per endpoint: lift the soft limit on
/// open files to the hard limit, as daemons with many sockets do (the
/// default soft limit of 1024 would cap the fleet at about a thousand).
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  auto wanted = limit;
  wanted.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &wanted) != 0)
    spdlog::warn("cannot raise the open-file limit from {}",
                 static_cast<unsigned long long>(limit.rlim_cur));
}

constexpr std::chrono::milliseconds first_retry{100};
constexpr std::chrono::milliseconds max_retry{5000};

/// One start: false (and logged) if the backend cannot be listed yet.
bool try_start(orasi::ServiceDiscovery& discovery,
               std::chrono::milliseconds retry_in) {
  try {
    discovery.start();
    return true;
  } catch (const orasi::GatewayError& err) {
    if (err.kind() != orasi::errc::backend_unavailable &&
        err.kind() != orasi::errc::timeout)
      throw;
    spdlog::warn("backend not listed yet, retrying in {} ms: {}",
                 retry_in.count(), err.what());
    return false;
  }
}

/// Starts again and again (first_retry doubling to max_retry) until the
/// backend is listed; false if SIGINT/SIGTERM came first.
bool retry_start(const sigset_t& signals, orasi::ServiceDiscovery& discovery) {
  auto delay = first_retry;
  for (;;) {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(delay);
    timespec wait{static_cast<time_t>(seconds.count()),
                  static_cast<long>((delay - seconds).count() * 1000000)};
    int signal = sigtimedwait(&signals, nullptr, &wait);
    if (signal == SIGINT || signal == SIGTERM) {
      spdlog::info("received {}, shutting down (again to force)",
                   signal == SIGINT ? "SIGINT" : "SIGTERM");
      force_exit_on_next_signal(signals);
      return false;
    }
    // A timeout, EINTR or SIGHUP: try again now.
    delay = std::min(delay * 2, max_retry);
    if (try_start(discovery, delay))
      return true;
  }
}

int run(const launcher_args& args, const sigset_t& signals) {
  auto config = load_config(args);
  spdlog::set_level(spdlog::level::from_str(config.logging.level));
  raise_open_file_limit();
  spdlog::info("orasi-discovery starting ({} backend, config: {})",
               to_string(config.service_discovery.backend),
               args.config_file.empty() ? "embedded demo" : args.config_file);
  orasi::ServiceDiscovery discovery{config};
  orasi::AdminServer admin{discovery, config.admin.listen, config.admin.token};
  // Listed before the admin API listens, so that a client that finds it
  // listening finds the services too; a backend that cannot be listed yet
  // is retried with the admin API up (/readyz 503 until the listing).
  bool started = try_start(discovery, first_retry);
  admin.start();
  if (started || retry_start(signals, discovery))
    wait_for_shutdown(signals, discovery);
  admin.stop();
  discovery.stop();
  spdlog::info("stopped");
  return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  // Client commands talk to a running launcher instead of being one.
  if (argc > 1 && orasi::cli::is_command(argv[1]))
    return orasi::cli::run(argc, argv);
  // A peer that closes a TLS connection while we write to it (etcd refusing
  // a client without a certificate, say) raises SIGPIPE inside OpenSSL's
  // write, whose default action ends the process without a word. The admin
  // server's httplib::Server ignores it as a side effect of its
  // construction; a start before that must not depend on it.
  std::signal(SIGPIPE, SIG_IGN);
  auto signals = blocked_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  launcher_args args;
  int exit_code = exit_ok;
  if (!parse_args(argc, argv, args, exit_code))
    return exit_code;
  if (args.print_default_config) {
    std::cout << orasi::default_launcher_config << "\n";
    return exit_ok;
  }
  try {
    return run(args, signals);
  } catch (const orasi::GatewayError& err) {
    std::cerr << "orasi-discovery: " << err.what() << "\n";
    return err.kind() == orasi::errc::config_invalid ? exit_usage
                                                     : exit_failure;
  } catch (const std::exception& err) {
    // Not one of ours (e.g. a backend client the test network guard
    // refused): said and a failure, never std::terminate.
    std::cerr << "orasi-discovery: " << err.what() << "\n";
    return exit_failure;
  }
}
