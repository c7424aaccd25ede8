// The real launcher process (ORASI_LAUNCHER_PATH) for tests of the operator
// surface: started on a config, its admin API found on the port it picked,
// and read over HTTP on loopback.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "test_support.hpp"

namespace orasi::test {

/// One answer of the admin API.
struct http_answer {
  int status = 0;
  std::string body;
  std::string content_type;
};

/// The launcher, SIGKILLed by its destructor if still running.
class launcher_process {
public:
  /// Starts the launcher with `args` and waits until its admin API listens;
  /// throws std::runtime_error with the launcher's output if it does not.
  explicit launcher_process(
      std::vector<std::string> args,
      std::chrono::milliseconds startup = std::chrono::seconds(60));

  child_process& process() { return process_; }
  uint16_t admin_port() const { return port_; }

  /// A GET of the admin API; nullopt when nothing answers.
  std::optional<http_answer> get(const std::string& path) const;
  /// A PUT with a JSON body; nullopt when nothing answers.
  std::optional<http_answer> put(const std::string& path,
                                 const std::string& json_body) const;
  /// A GET's body as JSON, and its status in `status` when given; throws
  /// std::runtime_error when nothing answers or the body is not JSON.
  boost::json::value get_json(const std::string& path,
                              int* status = nullptr) const;

private:
  child_process process_;
  uint16_t port_ = 0;
};

/// A launcher config for the etcd backend on `endpoints`, with `etcd` as
/// service_discovery.etcd: probes off (endpoint health is what etcd
/// declares), the admin API on a free port of 127.0.0.1.
std::string etcd_launcher_config(const std::vector<std::string>& endpoints,
                                 const boost::json::object& etcd = {});

/// ServiceInfo JSON: `name` with one endpoint `url`, declared Healthy.
std::string service_json(const std::string& name, const std::string& url);

} // namespace orasi::test
