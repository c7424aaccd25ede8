// Registry publish cost: the real registry actor in a real actor_system,
// holding --services services of --endpoints endpoints each (declared
// Healthy by the backend, no probes), measured for
//   flips   one endpoint's verdict (endpoint_health_changed, Healthy <->
//           Unhealthy, a random endpoint each time) until the subscriber
//           gets the published snapshot;
//   deltas  one backend_delta that changes one service (its metadata) until
//           the subscriber gets the published snapshot;
//   memory  RSS per service after the first listing is published.
// For each flip and delta: wall latency (send -> snapshot received by a
// subscriber) and the CPU time of every thread but the driver's (the CAF
// workers and timer: the registry's work, its messages and the freeing of
// the snapshot it replaced), read per thread with
// clock_gettime(<thread cpu clock of tid>), from the send until the
// registry answers a request queued behind the publication, so nothing the
// publication left to do is missed. Context switches from
// /proc/self/task/*/status. The health batch window is 0: the registry
// publishes right after the verdict, not 10 ms later.
//
// Uses only the registry's message interface, which is the same at f5d47de
// (before issue 14), so bench/run_registry_publish.sh builds this file
// against both. One shape per process (RSS). Prints one JSON line on stdout
// and a summary on stderr.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <malloc.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/registry.hpp"
#include "bench/bench_cli.hpp"
#include "bench/bench_stats.hpp"
#include "bench/proc_stats.hpp"
#include "messages/type_registration.hpp"

namespace {

using namespace orasi::bench::proc;
using steady = std::chrono::steady_clock;

struct bench_options {
  size_t services = 10000;
  size_t endpoints = 1; // per service
  size_t flips = 200;
  size_t deltas = 100;
  size_t caf_threads = 0; // 0 = CAF's default
  /// Idle CAF workers block at once, as the facade configures them; false
  /// keeps CAF's default (spin, then poll, then block), whose polling shows
  /// up in the CPU time of the threads measured here.
  bool idle_workers_block = true;
  unsigned seed = 14;
};

// -- data
// ----------------------------------------------------------------------

std::string format(const char* fmt, size_t a, size_t b = 0, size_t c = 0) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, fmt, a, b, c);
  return buffer;
}

std::string service_id(size_t i) {
  return format("svc-%06zu", i);
}

/// Service `i` as a deployment registers it: endpoints with zone, instance
/// and pod metadata, owner metadata on the service (like read_path_bench).
orasi::ServiceInfo make_service(size_t i, size_t endpoints) {
  static const char* const zones[] = {"eu-west-1a", "eu-west-1b", "eu-west-1c"};
  static const char* const teams[] = {"commerce", "platform", "growth",
                                      "logistics", "identity"};
  orasi::ServiceInfo service;
  service.name = std::string{teams[i % 5]} + format("-api-%zu", i / 5);
  for (size_t j = 0; j < endpoints; ++j) {
    orasi::ServiceEndpoint endpoint;
    endpoint.url =
        format("http://127.%zu.%zu.%zu", i / 250 % 256, i % 250, 10 + j % 240) +
        format(":%zu/e%zu", 8000 + i % 100, j);
    endpoint.weight = j == 0 ? 2 : 1;
    endpoint.health_status = orasi::EndpointHealthStatus::Healthy;
    endpoint.metadata = {
        {"zone", zones[j % 3]},
        {"instance", format("i-0%06zx%06zx", i * 2654435761u % 0xffffff, j)},
        {"pod", service.name + format("-7f9c%04zx-%zu", i % 0x10000, j)},
    };
    service.endpoints.push_back(std::move(endpoint));
  }
  service.metadata = {{"team", teams[i % 5]},
                      {"version", format("1.%zu.%zu", i % 17, i % 5)},
                      {"owner", std::string{teams[i % 5]} + "@example.com"}};
  return service;
}

// -- statistics
// ----------------------------------------------------------------

using orasi::bench::percentiles;
using orasi::bench::summarize;

std::string to_json(const percentiles& p) {
  std::ostringstream out;
  out << "{\"p50\":" << p.p50 << ",\"p90\":" << p.p90 << ",\"p99\":" << p.p99
      << ",\"max\":" << p.max << ",\"mean\":" << p.mean << "}";
  return out.str();
}

/// Per operation: wall (send -> snapshot received) and CPU of the other
/// threads, in microseconds; context switches over all operations.
struct phase_result {
  std::vector<double> wall_us;
  std::vector<double> cpu_us;
  long switches = 0;
  double elapsed_s = 0;

  std::string to_json(const char* name) const {
    std::ostringstream out;
    auto n = static_cast<double>(std::max<size_t>(1, wall_us.size()));
    out << "\"" << name << "\":{\"count\":" << wall_us.size()
        << ",\"wall_us\":" << ::to_json(summarize(wall_us))
        << ",\"cpu_us\":" << ::to_json(summarize(cpu_us))
        << ",\"context_switches_per_op\":" << static_cast<double>(switches) / n
        << ",\"elapsed_s\":" << elapsed_s << "}";
    return out.str();
  }
};

// -- the registry, driven
// --------------------------------------------------------

class driver {
public:
  driver(caf::actor_system& sys, const bench_options& opts)
      : opts_(opts), self_(sys), rng_(opts.seed) {}

  /// Spawns the registry, subscribes, publishes the first listing; returns
  /// the milliseconds until that listing's snapshot arrived.
  double start(caf::actor_system& sys) {
    orasi::registry_options options;
    options.health_batch_window = caf::timespan{0};
    registry_ = sys.spawn(orasi::registry,
                          std::make_shared<orasi::snapshot_store>(), options);
    self_
        ->request(registry_, caf::infinite, orasi::subscribe_atom::value,
                  caf::actor_cast<caf::actor>(self_))
        .receive([](uint64_t) {}, [](caf::error& e) { fail("subscribe", e); });
    orasi::backend_snapshot listing;
    for (size_t i = 0; i < opts_.services; ++i)
      listing.services.emplace(service_id(i), make_service(i, opts_.endpoints));
    listing.revision = 1;
    auto t0 = steady::now();
    uint64_t version = 0;
    self_->request(registry_, caf::infinite, std::move(listing))
        .receive([&](uint64_t v) { version = v; },
                 [](caf::error& e) { fail("backend_snapshot", e); });
    await_version(version);
    auto elapsed = steady::now() - t0;
    version_ = version;
    return std::chrono::duration<double, std::milli>(elapsed).count();
  }

  /// One random endpoint's verdict flipped per operation.
  phase_result flips() {
    std::uniform_int_distribution<size_t> service{0, opts_.services - 1};
    std::uniform_int_distribution<size_t> endpoint{0, opts_.endpoints - 1};
    return measure(opts_.flips, [&] {
      auto i = service(rng_);
      auto j = endpoint(rng_);
      auto url = make_service(i, opts_.endpoints).endpoints[j].url;
      bool& down = unhealthy_[{i, j}];
      down = !down;
      orasi::endpoint_health_changed change{
          service_id(i), url,
          down ? orasi::EndpointHealthStatus::Unhealthy
               : orasi::EndpointHealthStatus::Healthy,
          "bench", false};
      return [this, change = std::move(change)]() mutable {
        self_->send(registry_, std::move(change));
      };
    });
  }

  /// One random service's metadata changed per operation.
  phase_result deltas() {
    std::uniform_int_distribution<size_t> service{0, opts_.services - 1};
    size_t round = 0;
    return measure(opts_.deltas, [&] {
      auto i = service(rng_);
      orasi::backend_delta delta;
      auto changed = make_service(i, opts_.endpoints);
      changed.metadata["version"] = format("2.%zu.0", ++round);
      // Endpoints keep the verdicts the flips left them: same urls.
      delta.upserts.emplace(service_id(i), std::move(changed));
      delta.revision = 1 + round;
      return [this, delta = std::move(delta)]() mutable {
        self_->request(registry_, caf::infinite, std::move(delta))
            .receive([](uint64_t) {},
                     [](caf::error& e) { fail("backend_delta", e); });
      };
    });
  }

  void stop() {
    caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  }

private:
  [[noreturn]] static void fail(const char* what, const caf::error& e) {
    std::fprintf(stderr, "%s failed: %s\n", what, caf::to_string(e).c_str());
    std::exit(1);
  }

  /// Receives snapshots until one with `version` (or newer) arrives, and
  /// drops them at once, so that the registry frees the version it replaces.
  void await_version(uint64_t version) {
    for (bool done = false; !done;)
      self_->receive(
          [&](orasi::changed_atom, orasi::SnapshotPtr& snapshot) {
            done = snapshot->version >= version;
            snapshot.reset();
          },
          caf::after(std::chrono::seconds(60)) >>
              [] {
                std::fprintf(stderr, "no snapshot within 60 s\n");
                std::exit(1);
              });
  }

  /// Waits until the registry handled everything queued before this.
  void await_idle() {
    self_->request(registry_, caf::infinite, orasi::snapshot_atom::value)
        .receive([](orasi::SnapshotPtr&) {},
                 [](caf::error& e) { fail("snapshot", e); });
  }

  /// `count` operations, each made by `make()` (not measured) and then sent.
  template <class Make>
  phase_result measure(size_t count, Make make) {
    phase_result result;
    auto tids = other_threads();
    auto switches0 = context_switches();
    auto started = steady::now();
    for (size_t k = 0; k < count; ++k) {
      auto send = make();
      auto cpu0 = cpu_ns(tids);
      auto t0 = steady::now();
      send();
      await_version(++version_);
      auto t1 = steady::now();
      await_idle();
      auto cpu1 = cpu_ns(tids);
      result.wall_us.push_back(
          std::chrono::duration<double, std::micro>(t1 - t0).count());
      result.cpu_us.push_back(static_cast<double>(cpu1 - cpu0) / 1000);
    }
    result.elapsed_s =
        std::chrono::duration<double>(steady::now() - started).count();
    result.switches = context_switches() - switches0;
    return result;
  }

  const bench_options& opts_;
  caf::scoped_actor self_;
  orasi::registry_actor registry_;
  std::mt19937 rng_;
  uint64_t version_ = 0;
  std::map<std::pair<size_t, size_t>, bool> unhealthy_; // flipped state
};

// -- setup
// ---------------------------------------------------------------------

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--services N] [--endpoints N] [--flips N]\n"
               "          [--deltas N] [--caf-threads N] [--seed N]\n"
               "          [--idle-workers block|poll]\n"
               "defaults: 10000 services x 1 endpoint, 200 flips, 100 "
               "deltas, CAF's\ndefault scheduler threads, idle workers "
               "block (as the facade sets them)\n",
               program);
  std::exit(status);
}

bench_options parse_args(int argc, char** argv) {
  bench_options opts;
  orasi::bench::cli_args args{argc, argv, usage};
  args.parse([&](const std::string& flag) {
    if (flag == "--services")
      opts.services = static_cast<size_t>(args.integer());
    else if (flag == "--endpoints")
      opts.endpoints = static_cast<size_t>(args.integer());
    else if (flag == "--flips")
      opts.flips = static_cast<size_t>(args.integer());
    else if (flag == "--deltas")
      opts.deltas = static_cast<size_t>(args.integer());
    else if (flag == "--caf-threads")
      opts.caf_threads = static_cast<size_t>(args.integer());
    else if (flag == "--seed")
      opts.seed = static_cast<unsigned>(args.integer());
    else if (flag == "--idle-workers") {
      std::string value = args.value();
      if (value != "block" && value != "poll")
        args.fail();
      opts.idle_workers_block = value == "block";
    } else
      return false;
    return true;
  });
  if (opts.services == 0 || opts.endpoints == 0)
    args.fail();
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  caf::actor_system_config cfg;
  orasi::add_message_types(cfg);
  if (opts.caf_threads > 0)
    cfg.set("scheduler.max-threads", opts.caf_threads);
  if (opts.idle_workers_block) { // as runtime/service_discovery.cpp does
    cfg.set("work-stealing.aggressive-poll-attempts", size_t{0});
    cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  }
  caf::actor_system sys{cfg};
  std::string json;
  {
    driver bench{sys, opts};
    ::malloc_trim(0);
    auto rss0 = rss_bytes();
    auto start_ms = bench.start(sys);
    ::malloc_trim(0); // the listing message is gone: give back its pages
    auto rss1 = rss_bytes();
    auto flips = bench.flips();
    auto deltas = bench.deltas();
    auto rss2 = rss_bytes();
    bench.stop();
    double per_service =
        static_cast<double>(rss1 - rss0) / static_cast<double>(opts.services);
    std::ostringstream out;
    out << "{\"idle_workers\":\""
        << (opts.idle_workers_block ? "block" : "poll") << "\""
        << ",\"services\":" << opts.services
        << ",\"endpoints_per_service\":" << opts.endpoints
        << ",\"first_listing_ms\":" << start_ms << ",\"rss_before\":" << rss0
        << ",\"rss_after_start\":" << rss1 << ",\"rss_at_end\":" << rss2
        << ",\"rss_bytes_per_service\":" << per_service << ","
        << flips.to_json("flips") << "," << deltas.to_json("deltas") << "}";
    json = out.str();
    auto line = [](const char* name, const phase_result& r) {
      auto wall = summarize(r.wall_us), cpu = summarize(r.cpu_us);
      std::fprintf(
          stderr,
          "  %-6s cpu p50 %9.1f p99 %9.1f mean %9.1f us | wall p50 "
          "%9.1f p99 %9.1f us | %.1f switches/op\n",
          name, cpu.p50, cpu.p99, cpu.mean, wall.p50, wall.p99,
          static_cast<double>(r.switches) /
              static_cast<double>(std::max<size_t>(1, r.wall_us.size())));
    };
    std::fprintf(stderr,
                 "%zu x %zu: first listing %.1f ms, RSS %.0f B/service "
                 "(%.1f -> %.1f MB)\n",
                 opts.services, opts.endpoints, start_ms, per_service,
                 static_cast<double>(rss0) / 1e6,
                 static_cast<double>(rss1) / 1e6);
    line("flip", flips);
    line("delta", deltas);
  }
  std::printf("%s\n", json.c_str());
  return 0;
}
