// The benchmarks' etcd client: one keep-alive connection to etcd's JSON
// gateway (httplib clients are not thread-safe: one per thread). Failures
// throw: a benchmark cannot go on.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <httplib.h>

#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"

namespace orasi::bench {

class etcd_http {
public:
  etcd_http(const std::string& url, bool tcp_nodelay) : client_(url) {
    client_.set_keep_alive(true);
    // httplib writes headers and body separately: without TCP_NODELAY the
    // body waits for the delayed ACK of the headers (about 40 ms).
    client_.set_tcp_nodelay(tcp_nodelay);
    client_.set_connection_timeout(std::chrono::seconds(2));
    client_.set_read_timeout(std::chrono::seconds(30));
  }

  std::string post(const std::string& path, const std::string& body) {
    auto res = client_.Post(path, body, "application/json");
    if (!res)
      throw std::runtime_error("POST " + path + ": " +
                               httplib::to_string(res.error()));
    if (res->status != 200)
      throw std::runtime_error("POST " + path + ": HTTP " +
                               std::to_string(res->status) + ": " + res->body);
    return std::move(res->body);
  }

  void put(const std::string& key, const std::string& value) {
    boost::json::object request{{"key", backends::base64_encode(key)},
                                {"value", backends::base64_encode(value)}};
    post("/v3/kv/put", boost::json::serialize(request));
  }

  /// Writes all of `kvs` in one transaction (etcd's --max-txn-ops is 128 by
  /// default).
  void put_all(const std::vector<std::pair<std::string, std::string>>& kvs) {
    boost::json::array ops;
    for (const auto& [key, value] : kvs)
      ops.emplace_back(
          boost::json::object{{"request_put",
                               {{"key", backends::base64_encode(key)},
                                {"value", backends::base64_encode(value)}}}});
    boost::json::object txn;
    txn["success"] = std::move(ops);
    post("/v3/kv/txn", boost::json::serialize(txn));
  }

  void delete_prefix(const std::string& prefix) {
    boost::json::object request{
        {"key", backends::base64_encode(prefix)},
        {"range_end",
         backends::base64_encode(backends::etcd::prefix_range_end(prefix))}};
    post("/v3/kv/deleterange", boost::json::serialize(request));
  }

  size_t count_prefix(const std::string& prefix) {
    boost::json::object request{
        {"key", backends::base64_encode(prefix)},
        {"range_end",
         backends::base64_encode(backends::etcd::prefix_range_end(prefix))},
        {"count_only", true}};
    auto reply = boost::json::parse(
        post("/v3/kv/range", boost::json::serialize(request)));
    // int64 fields come as strings, and not at all when 0.
    auto* count = reply.as_object().if_contains("count");
    return count ? std::stoul(std::string{count->as_string()}) : 0;
  }

private:
  httplib::Client client_;
};

} // namespace orasi::bench
