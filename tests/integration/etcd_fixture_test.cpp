// The etcd fixture itself, against real etcd 3.4 members: values survive the
// round trip through etcdctl, a cluster replicates, fails over after a kill
// and catches up after a restart, and nothing outlives the fixture.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "etcd_fixture.hpp"
#include "test_support.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

/// Live processes whose command line mentions `text`: a zombie's command
/// line is empty, so only processes still running count.
std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> pids;
  for (auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::ostringstream cmdline;
    cmdline << in.rdbuf();
    if (cmdline.str().find(text) != std::string::npos)
      pids.push_back(std::stoi(name));
  }
  return pids;
}

std::vector<std::string> only(const test::etcd_cluster& etcd, size_t member) {
  return {etcd.client_url(member)};
}

/// The value of `key` as `member` has applied it locally (serializable: no
/// round trip to the leader).
std::string local_value(const test::etcd_cluster& etcd, size_t member,
                        const std::string& key) {
  return test::etcdctl(only(etcd, member), {"get", "--consistency=s",
                                            "--print-value-only", "--", key})
      .out;
}

} // namespace

TEST_CASE("etcd fixture: one member round-trips values, leases and revisions",
          "[etcd]") {
  test::etcd_cluster etcd;
  REQUIRE(etcd.size() == 1);
  REQUIRE(etcd.running(0));
  CHECK_THAT(etcd.client_url(0), Catch::StartsWith("http://127.0.0.1:"));
  CHECK(etcd.client_urls() == std::vector<std::string>{etcd.client_url(0)});
  CHECK(test::etcdctl(etcd.client_urls(), {"endpoint", "health"}).ok());

  // What a backend stores: JSON with quotes, spaces and a newline. A value
  // starting with '-' must not be taken for an etcdctl flag.
  const std::string service =
      "{\"name\": \"web\", \"endpoints\": [\"http://127.0.0.1:80\"]}\n";
  auto first = etcd.current_revision();
  etcd.put("/orasi/services/web-1", service);
  etcd.put("/orasi/services/-x", "-1");
  etcd.put("/orasi/other", "outside the prefix");
  CHECK(etcd.current_revision() == first + 3);
  CHECK(etcd.read_prefix("/orasi/services/") ==
        std::map<std::string, std::string>{{"/orasi/services/-x", "-1"},
                                           {"/orasi/services/web-1", service}});
  CHECK_THAT(etcd.get_json("/orasi/services/web-1"),
             Catch::Contains(R"("count":1)"));
  etcd.del("/orasi/services/-x");
  CHECK(etcd.read_prefix("/orasi/services/").size() == 1);
  CHECK(etcd.read_prefix("/nothing/").empty());

  auto lease = etcd.grant_lease(60s);
  etcd.put("/orasi/leased", "x", lease);
  CHECK(etcd.lease_of("/orasi/leased") == lease);
  CHECK(etcd.lease_of("/orasi/services/web-1") == std::nullopt);
  CHECK(etcd.lease_of("/nothing") == std::nullopt);

  // Old revisions stay readable until compact(): no auto-compaction.
  etcd.put("/orasi/versioned", "v1");
  auto v1 = std::to_string(etcd.current_revision());
  etcd.put("/orasi/versioned", "v2");
  std::vector<std::string> read_v1 = {"get", "--rev=" + v1,
                                      "--print-value-only", "/orasi/versioned"};
  CHECK(etcd.etcdctl(read_v1).out == "v1\n");
  etcd.compact(etcd.current_revision());
  auto compacted = etcd.etcdctl(read_v1);
  CHECK_FALSE(compacted.ok());
  CHECK_THAT(compacted.err, Catch::Contains("compacted"));
}

TEST_CASE("etcd fixture: three members replicate, fail over after a kill and "
          "catch up after a restart",
          "[etcd]") {
  test::etcd_cluster etcd{3};
  REQUIRE(test::etcdctl(only(etcd, 0), {"put", "/k/a", "via member 0"}).ok());
  // Linearizable by default: member 2 sees the write at once.
  CHECK(
      test::etcdctl(only(etcd, 2), {"get", "--print-value-only", "/k/a"}).out ==
      "via member 0\n");

  auto old_leader = etcd.leader();
  REQUIRE(old_leader);
  etcd.kill(*old_leader);
  CHECK_FALSE(etcd.running(*old_leader));
  // Writes fail until the two survivors have elected a new leader, and
  // not fast: without a leader a write waits for etcdctl's 5 s timeout.
  std::vector<std::string> put_b = {"--command-timeout=300ms", "put", "/k/b",
                                    "after the kill"};
  CHECK(test::eventually([&] { return etcd.etcdctl(put_b).ok(); }, 10s));
  auto new_leader = etcd.leader();
  REQUIRE(new_leader);
  CHECK(*new_leader != *old_leader);

  // restart() waits for a quorum read applied on the member, so its local
  // state already holds the write it missed.
  etcd.restart(*old_leader);
  CHECK(etcd.running(*old_leader));
  CHECK(local_value(etcd, *old_leader, "/k/b") == "after the kill\n");

  // The same after a graceful stop of a follower.
  size_t follower = (*new_leader + 1) % 3;
  etcd.stop(follower);
  CHECK_FALSE(etcd.running(follower));
  etcd.put("/k/c", "while stopped");
  etcd.restart(follower);
  CHECK(local_value(etcd, follower, "/k/c") == "while stopped\n");
  CHECK(etcd.read_prefix("/k/").size() == 3);
  CHECK_THAT(etcd.member_log(follower),
             Catch::Contains("=== etcd_fixture: starting m" +
                             std::to_string(follower)));
}

TEST_CASE("etcd fixture: restart() also waits for a member with auth enabled",
          "[etcd]") {
  test::etcd_cluster etcd;
  REQUIRE(etcd.etcdctl({"user", "add", "root:pw", "--interactive=false"}).ok());
  REQUIRE(etcd.etcdctl({"auth", "enable"}).ok());
  // The readiness probe has no credentials, so it must be one that needs
  // none; else restart() would wait out the startup timeout.
  auto started = std::chrono::steady_clock::now();
  etcd.restart(0);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(etcd.etcdctl({"--user=root:pw", "put", "/k", "v"}).ok());
  CHECK_FALSE(etcd.etcdctl({"put", "/k", "v"}).ok());
}

TEST_CASE("etcd fixture: the destructor leaves no process and no data behind",
          "[etcd]") {
  std::vector<pid_t> pids;
  std::string root;
  {
    test::etcd_cluster etcd{2};
    root = etcd.root_dir();
    pids = {etcd.pid(0), etcd.pid(1)};
    REQUIRE(pids[0] > 0);
    REQUIRE(pids[1] > 0);
    // The scan below would pass vacuously if it did not find live members.
    REQUIRE(processes_mentioning(root).size() == 2);
    REQUIRE(std::filesystem::exists(root));
  }
  for (auto pid : pids)
    CHECK(kill(pid, 0) == -1);
  CHECK(processes_mentioning(root).empty());
  CHECK_FALSE(std::filesystem::exists(root));
}

TEST_CASE("etcd fixture: a member that cannot start fails the constructor "
          "at once, with its log",
          "[etcd]") {
  test::etcd_options options;
  options.extra_args = {"--no-such-flag"};
  auto started = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(test::etcd_cluster(1, options),
                    Catch::Contains("no-such-flag") &&
                        Catch::Contains("exited with code 2"));
  // Not the 20 s startup timeout: an exited member ends the wait.
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}
