// The real launcher's signals, as an operator (or systemd) sends them: a
// second SIGINT/SIGTERM ends a clean stop that hangs, and a SIGHUP that
// finds the static backend's file invalid says why, keeps the previous
// services and the process, and a later valid file applies.
#include <csignal>
#include <fstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "launcher_support.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

/// The process state letter of /proc/PID/stat ('T' once stopped).
char process_state(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat{std::istreambuf_iterator<char>{in}, {}};
  auto after_name = stat.rfind(") ");
  return after_name == std::string::npos ? '?' : stat.at(after_name + 2);
}

/// SIGSTOPs a process for its lifetime: its sockets stay open and the
/// kernel still accepts connections on them, but nothing answers.
class frozen_process {
public:
  explicit frozen_process(pid_t pid) : pid_(pid) {
    if (pid_ <= 0 || ::kill(pid_, SIGSTOP) != 0)
      throw std::runtime_error("cannot stop process " + std::to_string(pid));
    if (!test::eventually([&] { return process_state(pid_) == 'T'; }, 10s))
      throw std::runtime_error("process " + std::to_string(pid) +
                               " did not stop");
  }
  ~frozen_process() { ::kill(pid_, SIGCONT); }
  frozen_process(const frozen_process&) = delete;
  frozen_process& operator=(const frozen_process&) = delete;

private:
  pid_t pid_;
};

/// The static backend with `services` (a JSON object text) and probes off,
/// padded with trailing spaces to `size` bytes so that later contents can
/// keep the file's size.
std::string static_config(const std::string& services,
                          const std::string& health_check = "",
                          size_t size = 0) {
  auto text = R"({"service_discovery":{"backend":"static","health_check":)"
              R"({"enabled":false)" +
              health_check + R"(},"services":)" + services +
              R"(},"admin":{"listen":"127.0.0.1:0"}})";
  if (text.size() < size)
    text.append(size - text.size(), ' ');
  return text;
}

/// Replaces the file's content keeping its size and modification time, the
/// stamp the launcher's once-a-second file check compares: only a SIGHUP
/// can make it read the new content.
void write_unnoticed(const std::string& path, std::string content) {
  struct stat before {};
  REQUIRE(stat(path.c_str(), &before) == 0);
  auto size = static_cast<size_t>(before.st_size);
  REQUIRE(content.size() <= size);
  content.append(size - content.size(), ' ');
  auto staging = path + ".unnoticed";
  {
    std::ofstream out{staging, std::ios::binary | std::ios::trunc};
    out << content;
  }
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, staging.c_str(), times, 0) == 0);
  REQUIRE(rename(staging.c_str(), path.c_str()) == 0);
  struct stat after {};
  REQUIRE(stat(path.c_str(), &after) == 0);
  REQUIRE(after.st_size == before.st_size);
  REQUIRE(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  REQUIRE(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

const std::string two_services = R"({
  "web-1":{"name":"web","endpoints":[{"url":"http://127.6.0.1:80",
    "health_status":"Healthy"}]},
  "db-1":{"name":"db","endpoints":[{"url":"http://127.6.0.3:5432"}]}})";

/// The output from the last occurrence of `marker` on ("" if none).
std::string output_since_last(const test::child_process& process,
                              const std::string& marker) {
  auto output = process.output();
  auto at = output.rfind(marker);
  return at == std::string::npos ? std::string{} : output.substr(at);
}

/// Sends SIGHUP and waits until the launcher has logged the outcome of that
/// reload: `expected` after its "received SIGHUP" line.
bool reload_logs(test::launcher_process& run, const std::string& expected) {
  auto& process = run.process();
  auto earlier = process.output().size();
  process.send_signal(SIGHUP);
  return test::eventually(
      [&] {
        auto output = process.output();
        auto received = output.find("received SIGHUP", earlier);
        return received != std::string::npos &&
               output.find(expected, received) != std::string::npos;
      },
      30s);
}

} // namespace

TEST_CASE("launcher: a second signal forces the exit while the clean stop "
          "hangs",
          "[launcher][etcd][signals]") {
  test::etcd_cluster cluster;
  // The clean stop revokes this instance's lease; against a frozen etcd
  // that request waits for request_timeout, far beyond this test.
  test::temp_config_file file{test::etcd_launcher_config(
      {cluster.client_url(0)},
      json::object{{"request_timeout", "10m"}, {"lease_ttl", "60s"}})};
  test::launcher_process run{{"--config", file.path()}};
  auto registered = run.put("/v1/services/api-1",
                            test::service_json("api", "http://127.6.0.9:80"));
  REQUIRE(registered);
  REQUIRE(registered->status == 200);
  REQUIRE(cluster.lease_of("/orasi/services/api-1")); // a lease to revoke

  frozen_process frozen{cluster.pid(0)};
  run.process().send_signal(SIGTERM);
  REQUIRE(run.process().wait_for_output("received SIGTERM, shutting down"));
  // The admin API closes first; then the stop waits on the frozen etcd.
  REQUIRE(test::eventually([&] { return !run.get("/healthz"); }, 30s));
  run.process().send_signal(SIGINT);
  auto exit_code = run.process().wait_for_exit(30s);
  INFO("launcher output:\n" << run.process().output());
  // 128 + the second signal, as the launcher defines it; a clean stop that
  // had finished would have exited 0.
  CHECK(exit_code == 128 + SIGINT);
  CHECK_THAT(run.process().output(),
             Catch::Contains("second signal, exiting now"));
}

TEST_CASE("launcher: a SIGHUP that finds the static file invalid logs the "
          "field and keeps the services and the process, and "
          "a valid file then applies",
          "[launcher][signals][reload]") {
  // Room for the contents below, so that each can keep the file's size.
  test::temp_config_file file{static_config(two_services, "", 4096)};
  test::launcher_process run{{"--config", file.path()}};
  REQUIRE(run.get_json("/v1/services").as_object().size() == 2);

  SECTION("an invalid field outside the services") {
    write_unnoticed(file.path(),
                    static_config(two_services, R"(,"success_threshold":0)"));
    bool logged = reload_logs(run, "reload failed");
    INFO("launcher output:\n" << run.process().output());
    REQUIRE(logged);
    auto failure = output_since_last(run.process(), "received SIGHUP");
    CHECK_THAT(
        failure,
        Catch::Contains("service_discovery.health_check.success_threshold"));
    CHECK_THAT(failure, Catch::Contains("must be at least 1"));
    CHECK_THAT(failure, Catch::Contains(file.path()));
  }
  SECTION("one bad service") {
    write_unnoticed(file.path(),
                    static_config(R"({"web-1":{"name":"web","endpoints":[)"
                                  R"({"url":"ftp://127.6.0.1:21"}]}})"));
    bool logged = reload_logs(run, "reload failed");
    INFO("launcher output:\n" << run.process().output());
    REQUIRE(logged);
    auto failure = output_since_last(run.process(), "received SIGHUP");
    CHECK_THAT(failure, Catch::Contains("web-1"));
    CHECK_THAT(failure, Catch::Contains("endpoints[0].url"));
    CHECK_THAT(failure, Catch::Contains("ftp"));
  }

  // The previous services stay served, and the process keeps running.
  auto services = run.get_json("/v1/services").as_object();
  CHECK(services.size() == 2);
  CHECK(services.contains("web-1"));
  CHECK(services.contains("db-1"));
  int status = 0;
  auto health = run.get_json("/healthz", &status);
  CHECK(status == 200);
  CHECK(health.at("running") == true);

  // A valid file with the same stamp: only the SIGHUP can apply it.
  write_unnoticed(file.path(),
                  static_config(R"({"solo-1":{"name":"solo","endpoints":[)"
                                R"({"url":"http://127.6.0.7:80"}]}})"));
  run.process().send_signal(SIGHUP);
  bool applied = test::eventually(
      [&] {
        auto now = run.get_json("/v1/services").as_object();
        return now.size() == 1 && now.contains("solo-1");
      },
      30s);
  INFO("launcher output:\n" << run.process().output());
  CHECK(applied);

  run.process().send_signal(SIGTERM);
  CHECK(run.process().wait_for_exit(30s) == 0);
}
