// The admin API's write, watch, readiness and Prometheus endpoints on the
// real launcher process: register and deregister with a bearer token, 401
// without it, 413 on a huge body, 400 naming the field, a watch that wakes
// at a change.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <httplib.h>

#include "test_support.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string launcher = ORASI_LAUNCHER_PATH;
const std::string token = "s3cret-admin-token";

const std::string web_body =
    R"({"name":"web","endpoints":[{"url":"http://127.7.0.1:80"}]})";

struct admin_launcher {
  orasi::test::temp_config_file file{
      R"({"service_discovery":{"backend":"static",)"
      R"("health_check":{"enabled":false}},)"
      R"("admin":{"listen":"127.0.0.1:0","token":")" +
      token + R"("}})"};
  orasi::test::child_process process{{launcher, "--config", file.path()}};
  uint16_t port = 0;

  admin_launcher() {
    REQUIRE(process.wait_for_output("admin API listening on"));
    port = orasi::test::admin_port_from_log(process.output());
    REQUIRE(port != 0);
  }

  ~admin_launcher() {
    process.send_signal(SIGTERM);
    process.wait_for_exit();
  }

  httplib::Client client(bool with_token = true) {
    httplib::Client c{"127.0.0.1", port};
    c.set_read_timeout(15s);
    if (with_token)
      c.set_default_headers({{"Authorization", "Bearer " + token}});
    return c;
  }
};

/// One endpoint on loopback port 1, which refuses: every check fails at
/// once, every 100 ms.
const std::string refused_endpoint_config =
    R"({"service_discovery":{"backend":"static","health_check":{)"
    R"("interval":"100ms","fast_interval":"100ms","timeout":"100ms",)"
    R"("retries":0,"failure_threshold":1},"services":{"web-1":{)"
    R"("name":"web","endpoints":[{"url":"http://127.0.0.1:1"}]}}},)"
    R"("admin":{"listen":"127.0.0.1:0"}})";

} // namespace

TEST_CASE("admin API: writes need the bearer token", "[admin][e2e]") {
  admin_launcher run;
  auto anonymous = run.client(false);
  auto res = anonymous.Put("/v1/services/web-1", web_body, "application/json");
  REQUIRE(res);
  CHECK(res->status == 401);
  CHECK(res->get_header_value("WWW-Authenticate") == "Bearer");
  CHECK(res->body.find(token) == std::string::npos);
  httplib::Client wrong{"127.0.0.1", run.port};
  wrong.set_default_headers({{"Authorization", "Bearer s3cret-admin-tokeX"}});
  res = wrong.Delete("/v1/services/web-1");
  REQUIRE(res);
  CHECK(res->status == 401);
  // Reads stay open.
  res = anonymous.Get("/v1/services");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(run.process.output().find(token) == std::string::npos);
}

TEST_CASE("admin API: register, read, deregister", "[admin][e2e]") {
  admin_launcher run;
  auto client = run.client();
  auto res = client.Put("/v1/services/web-1", web_body, "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  auto reply = json::parse(res->body);
  CHECK(reply.at("id") == "web-1");
  CHECK(res->get_header_value("X-Orasi-Index") ==
        std::to_string(reply.at("version").as_int64()));
  res = client.Get("/v1/services/web-1");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body).at("name") == "web");

  res = client.Delete("/v1/services/web-1");
  REQUIRE(res);
  CHECK(res->status == 200);
  res = client.Get("/v1/services/web-1");
  REQUIRE(res);
  CHECK(res->status == 404);
  res = client.Delete("/v1/services/web-1");
  REQUIRE(res);
  CHECK(res->status == 404);
}

TEST_CASE("admin API: bad bodies are 400 naming the field, huge ones 413",
          "[admin][e2e]") {
  admin_launcher run;
  auto client = run.client();
  struct bad_case {
    std::string body;
    std::string field;
  };
  for (const auto& [body, field] : std::vector<bad_case>{
           {R"({"name":"web","endpoints":[{"url":"ftp://x"}]})",
            "body.endpoints[0].url"},
           {R"({"endpoints":[]})", "body.name"},
           {R"({"name":"web","endpoints":[{"url":"http://h:1","wieght":2}]})",
            "body.endpoints[0].wieght"},
           {R"({"name":)", "body"},
       }) {
    CAPTURE(body);
    auto res = client.Put("/v1/services/x-1", body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_THAT(res->body, Catch::Contains(field));
  }
  std::string huge(2 * 1024 * 1024, ' ');
  auto res = client.Put("/v1/services/x-1", huge, "application/json");
  REQUIRE(res);
  CHECK(res->status == 413);
  res = client.Get("/v1/services");
  REQUIRE(res);
  CHECK(json::parse(res->body).as_object().empty()); // nothing stored
}

TEST_CASE("admin API: a watch wakes at a change, or at its wait",
          "[admin][e2e]") {
  admin_launcher run;
  auto client = run.client();
  auto res = client.Get("/readyz");
  REQUIRE(res);
  CHECK(res->status == 200);
  auto version = std::stoull(res->get_header_value("X-Orasi-Index"));

  // Nothing changes: the watch answers after its wait, same version.
  auto started = std::chrono::steady_clock::now();
  res =
      client.Get("/v1/watch?index=" + std::to_string(version) + "&wait=300ms");
  REQUIRE(res);
  CHECK(std::chrono::steady_clock::now() - started >= 290ms);
  CHECK(json::parse(res->body).at("version") == version);

  const auto watch_wait = 10s;
  auto watch = std::async(std::launch::async, [&] {
    auto watcher = run.client(false);
    auto answer =
        watcher.Get("/v1/watch?index=" + std::to_string(version) +
                    "&wait=" + std::to_string(watch_wait.count()) + "s");
    return std::make_pair(std::chrono::steady_clock::now(),
                          answer ? answer->body : std::string{});
  });
  // Not a synchronisation the checks depend on: nothing outside the server
  // shows that a watch waits (no metric counts them), and a watch that came
  // after the change answers at once, which passes too. The pause only
  // makes the waiting path the one taken.
  std::this_thread::sleep_for(200ms);
  res = client.Put("/v1/services/web-1", web_body, "application/json");
  REQUIRE(res);
  auto changed_at = std::chrono::steady_clock::now();
  auto [woke_at, body] = watch.get();
  auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      woke_at - changed_at);
  CAPTURE(latency.count());
  // Woken by the change, long before its wait would have ended; how soon
  // is a measurement (bench/run_watch_latency.sh).
  CHECK(latency < watch_wait / 5);
  auto answer = json::parse(body);
  CHECK(answer.at("version").as_int64() > static_cast<int64_t>(version));
  CHECK(answer.at("services").as_object().contains("web-1"));

  res = client.Get("/v1/watch?index=abc");
  REQUIRE(res);
  CHECK(res->status == 400);
}

TEST_CASE("admin API: Prometheus metrics", "[admin][e2e]") {
  admin_launcher run;
  auto client = run.client();
  REQUIRE(client.Put("/v1/services/web-1", web_body, "application/json"));
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_THAT(res->get_header_value("Content-Type"),
             Catch::StartsWith("text/plain"));
  for (auto line :
       {"# TYPE orasi_services gauge", "orasi_services 1",
        "orasi_endpoints{state=\"Unknown\"} 1",
        "orasi_backend_up{backend=\"static\"} 1",
        "orasi_probe_attempts_total{result=\"failed\",reason=\"timeout\"} 0",
        "# TYPE orasi_backend_watch_reconnects_total counter"})
    CHECK_THAT(res->body, Catch::Contains(line));
}

TEST_CASE("admin API: small answers on one kept-alive connection do not "
          "wait for the client's delayed ACK",
          "[admin][e2e]") {
  admin_launcher run;
  // A generic client: keep-alive on, TCP_NODELAY left as httplib has it
  // (off), so only the server's side decides. httplib writes headers and
  // body in two sends; without TCP_NODELAY on the server the body waits
  // for the client's delayed ACK on every answer (20 of them then take
  // several times the bound below).
  httplib::Client client{"127.0.0.1", run.port};
  client.set_keep_alive(true);
  client.set_read_timeout(15s);
  std::vector<long> micros; // each answer's round trip
  for (int i = 0; i < 21; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto res = client.Get("/healthz");
    micros.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    REQUIRE(client.is_socket_open()); // still the one connection
  }
  std::ostringstream all;
  for (auto us : micros)
    all << us << ' ';
  INFO("round trips in us: " << all.str());
  // The stall is the client's delayed-ACK timer (40 ms minimum on Linux)
  // on nearly every answer, so the median shows it however loaded the
  // machine is; without it the median is well under a millisecond (a few
  // under the sanitizers), and one slow answer cannot fail the test.
  std::nth_element(micros.begin(), micros.begin() + 10, micros.end());
  CHECK(micros[10] < 20'000);
}

namespace {

/// Runs a client command of the launcher binary; returns {exit, output}.
std::pair<int, std::string> cli(std::vector<std::string> args) {
  args.insert(args.begin(), launcher);
  orasi::test::child_process process{args};
  auto code = process.wait_for_exit(10s);
  return {code, process.output()};
}

} // namespace

TEST_CASE("CLI: services, register, deregister, watch, with exit codes",
          "[admin][cli][e2e]") {
  admin_launcher run;
  auto admin = "127.0.0.1:" + std::to_string(run.port);
  orasi::test::temp_config_file service_file{web_body};

  auto [refused, refused_out] = cli({"register", "--admin", admin, "--id",
                                     "web-1", "--file", service_file.path()});
  CHECK(refused == 1); // no token
  CHECK_THAT(refused_out, Catch::Contains("401"));

  auto [done, done_out] = cli({"register", "--admin", admin, "--token", token,
                               "--id", "web-1", "--file", service_file.path()});
  CHECK(done == 0);
  CHECK_THAT(done_out, Catch::Contains("registered web-1"));

  auto [listed, table] = cli({"services", "--admin", admin});
  CHECK(listed == 0);
  CHECK_THAT(table, Catch::Contains("SERVICE"));
  CHECK_THAT(table, Catch::Contains("web-1"));
  CHECK_THAT(table, Catch::Contains("0/1"));
  auto [listed_json, text] = cli({"services", "--admin", admin, "--json"});
  CHECK(listed_json == 0);
  CHECK(json::parse(text).as_object().contains("web-1"));
  auto [healthy, healthy_json] =
      cli({"services", "--admin", admin, "--healthy", "--json"});
  CHECK(healthy == 0);
  CHECK(json::parse(healthy_json).as_object().empty()); // Unknown endpoint

  // watch prints the next version as it happens.
  orasi::test::child_process watcher{{launcher, "watch", "--admin", admin}};
  REQUIRE(watcher.wait_for_output("web-1"));
  REQUIRE(cli({"register", "--admin", admin, "--token", token, "--id", "web-2",
               "--file", service_file.path()})
              .first == 0);
  CHECK(watcher.wait_for_output("web-2"));
  watcher.send_signal(SIGTERM);
  watcher.wait_for_exit();

  auto [removed, removed_out] =
      cli({"deregister", "--admin", admin, "--token", token, "web-1"});
  CHECK(removed == 0);
  CHECK(
      cli({"deregister", "--admin", admin, "--token", token, "web-1"}).first ==
      4);
  CHECK(cli({"services", "--admin", "127.0.0.1:1"}).first == 3);
  CHECK(cli({"services", "--bogus"}).first == 2);
}

TEST_CASE("launcher: --log-format json writes one JSON object per line, "
          "with a line per state transition",
          "[launcher][logging][e2e]") {
  orasi::test::temp_config_file file{refused_endpoint_config};
  orasi::test::child_process process{
      {launcher, "--config", file.path(), "--log-format", "json"}};
  REQUIRE(process.wait_for_output("Unknown -> Unhealthy"));
  process.send_signal(SIGTERM);
  CHECK(process.wait_for_exit() == 0);
  size_t lines = 0;
  std::istringstream log{process.output()};
  for (std::string line; std::getline(log, line);) {
    CAPTURE(line);
    auto entry = json::parse(line);
    CHECK(entry.as_object().contains("time"));
    CHECK(entry.as_object().contains("level"));
    ++lines;
  }
  CHECK(lines >= 3);
  CHECK_THAT(process.output(),
             Catch::Contains("endpoint http://127.0.0.1:1 of web-1: Unknown "
                             "-> Unhealthy (connect failed"));
}

TEST_CASE("admin API: last check per endpoint and the check latency "
          "histogram",
          "[admin][e2e]") {
  orasi::test::temp_config_file file{refused_endpoint_config};
  orasi::test::child_process process{{launcher, "--config", file.path()}};
  REQUIRE(process.wait_for_output("admin API listening on"));
  httplib::Client client{"127.0.0.1",
                         orasi::test::admin_port_from_log(process.output())};
  REQUIRE(orasi::test::eventually([&] {
    auto res = client.Get("/v1/probes");
    return res && json::parse(res->body).as_object().contains("web-1");
  }));
  auto probes = json::parse(client.Get("/v1/probes")->body);
  const auto& last = probes.at("web-1").at("http://127.0.0.1:1");
  CHECK(last.at("passed") == false);
  CHECK_THAT(std::string{last.at("reason").as_string()},
             Catch::Contains("refused"));
  CHECK(last.at("latency_ms").to_number<double>() >= 0);
  auto metrics = client.Get("/metrics")->body;
  CHECK_THAT(metrics,
             Catch::Contains("# TYPE orasi_probe_check_duration_seconds "
                             "histogram"));
  CHECK_THAT(metrics,
             Catch::Contains(
                 "orasi_probe_check_duration_seconds_bucket{le=\"+Inf\"}"));
  process.send_signal(SIGTERM);
  CHECK(process.wait_for_exit() == 0);
}

TEST_CASE("admin API: recent checks of the asked services and the "
          "transition log",
          "[admin][e2e]") {
  // Port 1 on loopback refuses: every check fails at once.
  orasi::test::temp_config_file file{refused_endpoint_config};
  orasi::test::child_process process{{launcher, "--config", file.path()}};
  REQUIRE(process.wait_for_output("admin API listening on"));
  httplib::Client client{"127.0.0.1",
                         orasi::test::admin_port_from_log(process.output())};
  auto recent = [&] {
    auto res = client.Get("/v1/probes?service=web-1&service=no-such-service");
    REQUIRE(res);
    auto body = json::parse(res->body).as_object();
    CHECK_FALSE(body.contains("no-such-service"));
    if (!body.contains("web-1"))
      return json::array{};
    return body.at("web-1").at("http://127.0.0.1:1").at("recent").as_array();
  };
  REQUIRE(orasi::test::eventually([&] { return recent().size() >= 3; }));
  auto checks = recent();
  CHECK(checks.size() <= 32);
  for (size_t i = 0; i < checks.size(); ++i) {
    CAPTURE(i);
    CHECK(checks[i].at("result") == "failed");
    CHECK(checks[i].at("failure") == "refused");
    CHECK(checks[i].at("status") == 0);
    if (i > 0)
      CHECK(checks[i].at("at_ms").to_number<int64_t>() >=
            checks[i - 1].at("at_ms").to_number<int64_t>());
  }
  // Without ?service= the answer keeps its shape: last checks only.
  auto all = json::parse(client.Get("/v1/probes")->body);
  CHECK_FALSE(
      all.at("web-1").at("http://127.0.0.1:1").as_object().contains("recent"));

  auto log = json::parse(client.Get("/v1/transitions")->body).as_object();
  CHECK(log.at("capacity") == 512);
  const auto& transitions = log.at("transitions").as_array();
  REQUIRE(transitions.size() == 1);
  const auto& first = transitions.at(0);
  CHECK(first.at("seq") == 1);
  CHECK(first.at("service") == "web-1");
  CHECK(first.at("url") == "http://127.0.0.1:1");
  CHECK(first.at("from") == "Unknown");
  CHECK(first.at("to") == "Unhealthy");
  CHECK(first.at("at_ms").to_number<int64_t>() > 0);
  auto later = json::parse(client.Get("/v1/transitions?since=1")->body);
  CHECK(later.at("transitions").as_array().empty());
  CHECK(client.Get("/v1/transitions?since=x")->status == 400);
  process.send_signal(SIGTERM);
  CHECK(process.wait_for_exit() == 0);
}

TEST_CASE("admin API: a watch with ?changes=1 gets only what changed since "
          "its version",
          "[admin][e2e]") {
  admin_launcher run;
  auto client = run.client();
  REQUIRE(client.Put("/v1/services/web-1", web_body, "application/json"));
  REQUIRE(client.Put("/v1/services/web-2", web_body, "application/json"));
  auto version = [&] {
    auto res = client.Get("/healthz");
    REQUIRE(res);
    return std::stoull(res->get_header_value("X-Orasi-Index"));
  };
  auto watch = [&](uint64_t index, const char* options) {
    auto res = client.Get(
        ("/v1/watch?index=" + std::to_string(index) + options).c_str());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CAPTURE(res->body);
    return json::parse(res->body).as_object();
  };
  // The first such watch has the server record changes from now on.
  auto base = version();
  CHECK(watch(0, "&changes=1").contains("services"));

  // Woken by one change: that change only.
  std::thread writer{[&] {
    std::this_thread::sleep_for(100ms);
    auto other = run.client();
    other.Delete("/v1/services/web-1");
  }};
  auto one = watch(base, "&wait=10s&changes=1");
  writer.join();
  CHECK(one.at("base") == base);
  CHECK(one.at("version") == base + 1);
  CHECK(one.at("changed").as_object().empty());
  CHECK(one.at("removed") == json::array{"web-1"});
  CHECK_FALSE(one.contains("services"));

  // Several versions behind: everything since, in one answer.
  REQUIRE(client.Put("/v1/services/web-3", web_body, "application/json"));
  auto two = watch(base, "&changes=1");
  CHECK(two.at("version") == base + 2);
  CHECK(two.at("changed").as_object().size() == 1);
  CHECK(two.at("changed").as_object().contains("web-3"));
  CHECK(two.at("removed") == json::array{"web-1"});

  // From before the server recorded, or without ?changes=1: everything.
  auto full = watch(base - 1, "&changes=1");
  CHECK(full.at("services").as_object().size() == 2);
  CHECK_FALSE(full.contains("changed"));
  auto plain = watch(base, "");
  CHECK(plain.at("services").as_object().contains("web-3"));
}

TEST_CASE("admin API: waiting watches never take every server thread",
          "[admin][e2e]") {
  admin_launcher run;
  std::atomic<int> refused{0};
  std::vector<std::thread> watchers;
  // However the test ends (a failed REQUIRE unwinds past joinable threads,
  // which would std::terminate): the launcher stops first, which wakes every
  // waiting watch at once, then the watchers are joined.
  struct stop_then_join {
    admin_launcher& run;
    std::vector<std::thread>& threads;
    ~stop_then_join() {
      run.process.send_signal(SIGTERM);
      run.process.wait_for_exit();
      for (auto& thread : threads)
        if (thread.joinable())
          thread.join();
    }
  } joiner{run, watchers};
  std::atomic<int> ended{0}; // watches that stopped waiting
  // Far longer than the test runs, even slowed down by a sanitizer on a
  // loaded machine: a watch that ends by its wait is a failure here, not
  // a timing accident (with a 10 s wait the test failed once under
  // ThreadSanitizer in CI).
  const auto watcher_wait = 240s;
  // httplib's client reads the status line with a function-local static
  // std::regex. Built first here, on this thread, it happens before every
  // watcher thread starts: ThreadSanitizer cannot see the library's own
  // guard (it is not instrumented) and reported 70 first uses at once as a
  // race.
  REQUIRE(run.client().Get("/healthz"));
  for (int i = 0; i < 70; ++i)
    watchers.emplace_back([&] {
      httplib::Client c{"127.0.0.1", run.port};
      c.set_read_timeout(watcher_wait + 60s);
      auto res = c.Get("/v1/watch?index=999999&wait=" +
                       std::to_string(watcher_wait.count()) + "s");
      if (res && res->status == 429)
        ++refused;
      else
        ++ended;
    });
  // A refusal means the waiting watches reached their cap.
  REQUIRE(orasi::test::eventually([&] { return refused > 0; }, 60s));
  auto client = run.client();
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto res = client.Put("/v1/services/web-1", web_body, "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  // Answered while every admitted watch still waits (none is woken: the
  // index is far ahead), not after one ended and freed a thread.
  CHECK(ended == 0);
}
