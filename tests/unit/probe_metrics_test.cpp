// probe_metrics under a reader: copying every result (the admin API's
// /v1/probes) must not hold up the probe engine, which records each check.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "actors/probe_metrics.hpp"

using namespace orasi;
using namespace std::chrono_literals;

namespace {

ProbeResult passing() {
  ProbeResult result;
  result.passed = true;
  result.status_code = 200;
  return result;
}

} // namespace

TEST_CASE("probe metrics: checks are recorded while a reader copies the "
          "results",
          "[metrics]") {
  probe_metrics metrics;
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back("s-" + std::to_string(i));
    metrics.record_result(ids.back(), "http://127.0.0.1:80", passing());
  }
  std::mutex mutex;
  std::condition_variable recorded_cv;
  int recorded = 0;
  std::vector<std::thread> writers;
  bool recorded_during_copy = false;
  metrics.after_shard_copied = [&](size_t) {
    if (!writers.empty())
      return;
    // The reader is in the middle of its copy: the writers (one per
    // service, the services spread over the shards) record meanwhile.
    for (auto& id : ids)
      writers.emplace_back([&, id] {
        metrics.record_result(id, "http://127.0.0.1:80", passing());
        std::lock_guard<std::mutex> guard{mutex};
        ++recorded;
        recorded_cv.notify_all();
      });
    std::unique_lock<std::mutex> lock{mutex};
    recorded_during_copy =
        recorded_cv.wait_for(lock, 10s, [&] { return recorded > 0; });
  };
  auto results = metrics.results();
  for (auto& writer : writers)
    writer.join();
  CHECK(recorded_during_copy);
  CHECK(results.size() == ids.size());
  CHECK(recorded == static_cast<int>(ids.size()));
}
