// Read-path micro-benchmark: reads per second of the registry's
// current picture, from 1 and from 2 threads, through
//   snapshot()              the facade's zero-copy read of the snapshot store,
//   get_healthy_services()  the facade's copy of the routable ServiceMap,
//   request(snapshot_atom)  a scoped_actor round trip to a registry actor.
// A plain main() with a fixed time budget per case. See bench/RESULTS.md and
// bench/run_read_path.sh.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "actors/registry.hpp"
#include "bench/bench_cli.hpp"
#include "messages/type_registration.hpp"
#include "runtime/service_discovery.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

/// Every read's result ends up here, so that the optimizer keeps the reads.
volatile uint64_t sink = 0;

struct bench_options {
  double seconds = 2.0;   // measured time per case
  double warmup = 0.2;    // unmeasured time per case, right before it
  size_t services = 1000; // services in the registry, 3 endpoints each
  size_t caf_threads = 0; // CAF scheduler workers; 0 = CAF's default
  std::string json_path;  // also write the results as JSON Lines if set
};

// -- data ---------------------------------------------------------------------

/// Endpoint j of service i: by i % 4, a service has 3, 2, 1 or 0 Healthy
/// endpoints, so 25% are Healthy, 50% Degraded and 25% Unhealthy.
orasi::EndpointHealthStatus endpoint_health(size_t i, size_t j) {
  return j < 3 - i % 4 ? orasi::EndpointHealthStatus::Healthy
                       : orasi::EndpointHealthStatus::Unhealthy;
}

std::string format(const char* fmt, size_t a, size_t b = 0, size_t c = 0) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, fmt, a, b, c);
  return buffer;
}

orasi::ServiceEndpoint make_endpoint(size_t i, size_t j,
                                     const std::string& name) {
  static const char* const zones[] = {"eu-west-1a", "eu-west-1b", "eu-west-1c"};
  orasi::ServiceEndpoint endpoint;
  endpoint.url =
      format("http://127.%zu.%zu.%zu", i / 250 % 256, i % 250, 10 + j) +
      format(":%zu", 8000 + i % 100);
  endpoint.weight = j == 0 ? 2 : 1;
  endpoint.health_status = endpoint_health(i, j);
  endpoint.metadata = {
      {"zone", zones[j % 3]},
      {"instance", format("i-0%06zx%06zx", i * 2654435761u % 0xffffff, j)},
      {"pod", name + format("-7f9c%04zx-%zu", i, j)},
  };
  return endpoint;
}

/// `count` services with ids "svc-0000".., 3 endpoints each.
orasi::ServiceMap make_services(size_t count) {
  static const char* const domains[] = {
      "checkout", "payments", "inventory", "search",        "accounts",
      "catalog",  "shipping", "pricing",   "notifications", "reviews"};
  static const char* const roles[] = {"api", "worker", "grpc", "gateway"};
  static const char* const teams[] = {"commerce", "platform", "growth",
                                      "logistics", "identity"};
  orasi::ServiceMap services;
  for (size_t i = 0; i < count; ++i) {
    orasi::ServiceInfo service;
    std::string role = roles[i / 10 % 4];
    service.name = domains[i % 10] + ("-" + role) + format("-%zu", i / 40);
    for (size_t j = 0; j < 3; ++j)
      service.endpoints.push_back(make_endpoint(i, j, service.name));
    service.metadata = {
        {"team", teams[i % 5]},
        {"version", format("1.%zu.%zu", i % 17, i % 5)},
        {"protocol", role == "grpc" ? "grpc" : "http"},
        {"owner", std::string{teams[i % 5]} + "-oncall@example.com"},
    };
    services.emplace(format("svc-%04zu", i), std::move(service));
  }
  return services;
}

// -- readers: one operation each, returning a value derived from the read ----

/// (a) The facade's zero-copy read: take the snapshot, touch it, drop it.
struct snapshot_reader {
  const orasi::ServiceDiscovery* discovery;
  uint64_t operator()() const {
    auto snapshot = discovery->snapshot();
    return snapshot->version + snapshot->healthy.size();
  }
};

/// (a') The facade's visiting read: no copy, no reference-count traffic.
struct visit_reader {
  const orasi::ServiceDiscovery* discovery;
  uint64_t operator()() const {
    uint64_t result = 0;
    discovery->with_snapshot([&](const orasi::RegistrySnapshot& snapshot) {
      result = snapshot.version + snapshot.healthy.size();
    });
    return result;
  }
};

/// (b) The facade's copying read; the copy is also destroyed per operation.
struct healthy_copy_reader {
  const orasi::ServiceDiscovery* discovery;
  uint64_t operator()() const {
    return discovery->get_healthy_services().size();
  }
};

/// (c) A request/response round trip to the registry actor.
struct actor_reader {
  actor_reader(caf::actor_system& sys, orasi::registry_actor registry)
      : self(sys), registry(std::move(registry)) {}
  uint64_t operator()() {
    uint64_t result = 0;
    self->request(registry, caf::infinite, orasi::snapshot_atom::value)
        .receive(
            [&](orasi::SnapshotPtr& snapshot) {
              result = snapshot->version + snapshot->healthy.size();
            },
            [&](caf::error& err) {
              std::fprintf(stderr, "snapshot request failed: %s\n",
                           caf::to_string(err).c_str());
              std::abort(); // a failed round trip makes the figures meaningless
            });
    return result;
  }
  caf::scoped_actor self;
  orasi::registry_actor registry;
};

// -- timing -------------------------------------------------------------------

struct thread_result {
  uint64_t ops = 0;
  double seconds = 0;     // wall time of the measured window
  double cpu_seconds = 0; // CPU time this thread got in it
  uint64_t checksum = 0;  // sum of the reads' results, fed to `sink`
  double ops_per_sec() const { return seconds > 0 ? ops / seconds : 0; }
};

struct case_result {
  std::string key;  // for JSON: snapshot, get_healthy_services, ...
  std::string name; // for the table
  std::vector<thread_result> threads;
  double total_ops_per_sec() const {
    double total = 0;
    for (auto& t : threads)
      total += t.ops_per_sec();
    return total;
  }
  /// Mean CPU share of the reading threads.
  double cpu_share() const {
    double total = 0;
    for (auto& t : threads)
      total += t.cpu_seconds / t.seconds;
    return total / threads.size();
  }
};

/// The measured window, the same for every thread of a case.
struct window {
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false};
  bench_clock::time_point start; // written before `go`
  bench_clock::time_point end;   // written before `go`
};

/// On a shared machine, a reading thread that got much less than 100% CPU
/// was descheduled: its figure measures the neighbours too.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

bench_clock::duration seconds_to_duration(double seconds) {
  return std::chrono::duration_cast<bench_clock::duration>(
      std::chrono::duration<double>(seconds));
}

/// Reads until w.start (warm-up), then counts reads until w.end. The clock is
/// read once per `batch` reads, so that it does not weigh on cheap reads.
template <class Reader>
thread_result drive(Reader& read, size_t batch, const window& w) {
  uint64_t checksum = 0;
  auto run_batch = [&] {
    for (size_t i = 0; i < batch; ++i)
      checksum += read();
  };
  while (bench_clock::now() < w.start)
    run_batch();
  thread_result result;
  auto first_cpu = thread_cpu_seconds();
  auto first = bench_clock::now();
  auto last = first;
  do {
    run_batch();
    result.ops += batch;
    last = bench_clock::now();
  } while (last < w.end);
  result.seconds = std::chrono::duration<double>(last - first).count();
  result.cpu_seconds = thread_cpu_seconds() - first_cpu;
  result.checksum = checksum;
  return result;
}

/// Runs one case on `threads` threads; each builds its reader with
/// make_reader() on its own thread before the window opens.
template <class MakeReader>
case_result run_case(const char* key, const char* name, size_t threads,
                     size_t batch, const bench_options& opts,
                     MakeReader make_reader) {
  window w;
  std::vector<thread_result> results(threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto read = make_reader();
      w.ready.fetch_add(1);
      while (!w.go.load(std::memory_order_acquire))
        std::this_thread::yield();
      results[t] = drive(read, batch, w);
    });
  while (w.ready.load() < threads)
    std::this_thread::yield();
  w.start = bench_clock::now() + seconds_to_duration(opts.warmup);
  w.end = w.start + seconds_to_duration(opts.seconds);
  w.go.store(true, std::memory_order_release);
  for (auto& worker : workers)
    worker.join();
  for (auto& r : results)
    sink = sink + r.checksum;
  return case_result{key, name, std::move(results)};
}

// -- output -------------------------------------------------------------------

void print_row(const case_result& c, const char* thread, double ops_per_sec,
               double cpu_share) {
  std::printf("%-24s %7zu  %-6s %14.0f %12.1f %5.0f\n", c.name.c_str(),
              c.threads.size(), thread, ops_per_sec, 1e9 / ops_per_sec,
              100 * cpu_share);
}

void print_table(const std::vector<case_result>& cases) {
  std::printf("\n%-24s %7s  %-6s %14s %12s %5s\n", "case", "threads", "thread",
              "ops/s", "ns/op", "cpu%");
  for (auto& c : cases) {
    if (c.threads.size() > 1)
      for (size_t t = 0; t < c.threads.size(); ++t) {
        auto& r = c.threads[t];
        print_row(c, ("t" + std::to_string(t)).c_str(), r.ops_per_sec(),
                  r.cpu_seconds / r.seconds);
      }
    print_row(c, "all", c.total_ops_per_sec(), c.cpu_share());
  }
  std::printf("\"all\" = sum over threads; its ns/op is 1e9 / total ops/s.\n"
              "cpu%% = CPU time of the reading thread(s) / wall time: well "
              "under 100 for the\nfacade cases means the machine was busy "
              "(actor clients wait by design).\n");
}

double total_of(const std::vector<case_result>& cases, const std::string& key,
                size_t threads) {
  for (auto& c : cases)
    if (c.key == key && c.threads.size() == threads)
      return c.total_ops_per_sec();
  return 0;
}

void print_summary(const std::vector<case_result>& cases) {
  auto snap = total_of(cases, "snapshot", 1);
  auto copy = total_of(cases, "get_healthy_services", 1);
  auto actor = total_of(cases, "actor_request", 1);
  std::printf("\n1 thread: snapshot() is %.0fx an actor round trip and %.0fx "
              "get_healthy_services()\n",
              snap / actor, snap / copy);
  auto visit = total_of(cases, "with_snapshot", 1);
  std::printf("1 thread: with_snapshot() is %.0fx an actor round trip\n",
              visit / actor);
  std::printf("1 -> 2 threads (total): snapshot() x%.2f, with_snapshot() "
              "x%.2f, get_healthy_services() x%.2f, actor round trip x%.2f\n",
              total_of(cases, "snapshot", 2) / snap,
              total_of(cases, "with_snapshot", 2) / visit,
              total_of(cases, "get_healthy_services", 2) / copy,
              total_of(cases, "actor_request", 2) / actor);
}

void write_json(const std::vector<case_result>& cases,
                const std::string& path) {
  std::ofstream out{path};
  out.precision(12);
  auto line = [&](const case_result& c, const std::string& thread,
                  const thread_result& r, double ops_per_sec, double cpu) {
    out << "{\"case\":\"" << c.key << "\",\"threads\":" << c.threads.size()
        << ",\"thread\":\"" << thread << "\",\"ops\":" << r.ops
        << ",\"seconds\":" << r.seconds << ",\"ops_per_sec\":" << ops_per_sec
        << ",\"ns_per_op\":" << 1e9 / ops_per_sec << ",\"cpu_share\":" << cpu
        << "}\n";
  };
  for (auto& c : cases) {
    thread_result all;
    for (size_t t = 0; t < c.threads.size(); ++t) {
      auto& r = c.threads[t];
      line(c, "t" + std::to_string(t), r, r.ops_per_sec(),
           r.cpu_seconds / r.seconds);
      all.ops += r.ops;
      all.seconds = std::max(all.seconds, r.seconds);
    }
    line(c, "all", all, c.total_ops_per_sec(), c.cpu_share());
  }
}

// -- setup --------------------------------------------------------------------

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--seconds S] [--warmup S] [--services N]\n"
               "          [--caf-threads N] [--json PATH]\n"
               "defaults: 2 s measured + 0.2 s warm-up per case, 1000 "
               "services, CAF's default worker count\n",
               program);
  std::exit(status);
}

bench_options parse_args(int argc, char** argv) {
  bench_options opts;
  orasi::bench::cli_args args{argc, argv, usage};
  args.parse([&](const std::string& flag) {
    if (flag == "--seconds")
      opts.seconds = args.real();
    else if (flag == "--warmup")
      opts.warmup = args.real();
    else if (flag == "--services")
      opts.services = static_cast<size_t>(args.integer());
    else if (flag == "--caf-threads")
      opts.caf_threads = static_cast<size_t>(args.integer());
    else if (flag == "--json")
      opts.json_path = args.value();
    else
      return false;
    return true;
  });
  if (opts.seconds <= 0 || opts.warmup < 0 || opts.services == 0)
    args.fail();
  return opts;
}

/// A registry actor of its own, holding the same services as the facade's.
orasi::registry_actor spawn_registry(caf::actor_system& sys,
                                     const orasi::ServiceMap& services) {
  auto registry =
      sys.spawn(orasi::registry, std::make_shared<orasi::snapshot_store>(),
                orasi::registry_options{});
  caf::scoped_actor self{sys};
  self->request(registry, caf::infinite,
                orasi::backend_snapshot{services, 1, {}})
      .receive([](uint64_t) {},
               [](caf::error& err) {
                 std::fprintf(stderr, "registry did not take the listing: %s\n",
                              caf::to_string(err).c_str());
                 std::exit(1);
               });
  return registry;
}

orasi::SnapshotPtr request_snapshot(caf::actor_system& sys,
                                    const orasi::registry_actor& registry) {
  caf::scoped_actor self{sys};
  orasi::SnapshotPtr result;
  self->request(registry, caf::infinite, orasi::snapshot_atom::value)
      .receive([&](orasi::SnapshotPtr& snapshot) { result = snapshot; },
               [](caf::error&) {});
  return result;
}

size_t count_endpoints(const orasi::ServiceTable& services) {
  size_t result = 0;
  for (auto& [id, service] : services)
    result += service.endpoints.size();
  return result;
}

/// Both read paths must serve the same, non-empty data.
void check_data(const orasi::SnapshotPtr& facade,
                const orasi::SnapshotPtr& actor) {
  if (facade->healthy.empty() || actor == nullptr ||
      facade->services != actor->services ||
      facade->healthy != actor->healthy) {
    std::fprintf(stderr, "facade and registry actor disagree, or nothing "
                         "is healthy\n");
    std::exit(1);
  }
  std::printf("data: %zu services / %zu endpoints; healthy view: %zu "
              "services / %zu endpoints (facade v%llu, actor v%llu)\n",
              facade->services.size(), count_endpoints(facade->services),
              facade->healthy.size(), count_endpoints(facade->healthy),
              static_cast<unsigned long long>(facade->version),
              static_cast<unsigned long long>(actor->version));
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  spdlog::set_level(spdlog::level::warn); // keep the table clean
  // One actor system for the facade and the extra registry: a second one
  // would add a second set of scheduler workers to a 2-core machine.
  caf::actor_system_config cfg;
  orasi::add_message_types(cfg);
  if (opts.caf_threads > 0)
    cfg.set("scheduler.max-threads", opts.caf_threads);
  caf::actor_system sys{cfg};
  orasi::GatewayConfig config; // static backend by default
  config.service_discovery.services = make_services(opts.services);
  // The declared health is the data: no probes (they would make every
  // endpoint Unknown until checked, and nothing routable).
  config.service_discovery.health_check.enabled = false;
  orasi::ServiceDiscovery discovery{sys, config};
  discovery.start();
  auto registry = spawn_registry(sys, config.service_discovery.services);
  check_data(discovery.snapshot(), request_snapshot(sys, registry));
  std::printf("%.1f s measured + %.1f s warm-up per case; %u hardware "
              "threads; %zu CAF workers\n",
              opts.seconds, opts.warmup, std::thread::hardware_concurrency(),
              sys.scheduler().num_workers());
  std::fflush(stdout);
  std::vector<case_result> cases;
  for (size_t threads : {1, 2})
    cases.push_back(run_case("snapshot", "snapshot()", threads, 256, opts,
                             [&] { return snapshot_reader{&discovery}; }));
  for (size_t threads : {1, 2})
    cases.push_back(run_case("with_snapshot", "with_snapshot()", threads, 256,
                             opts, [&] { return visit_reader{&discovery}; }));
  for (size_t threads : {1, 2})
    cases.push_back(run_case("get_healthy_services", "get_healthy_services()",
                             threads, 1, opts,
                             [&] { return healthy_copy_reader{&discovery}; }));
  for (size_t threads : {1, 2})
    cases.push_back(run_case("actor_request", "request(snapshot_atom)", threads,
                             16, opts, [&] {
                               return actor_reader{sys, registry};
                             }));
  print_table(cases);
  print_summary(cases);
  if (!opts.json_path.empty())
    write_json(cases, opts.json_path);
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  return 0;
}
