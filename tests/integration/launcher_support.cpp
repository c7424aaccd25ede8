#include "launcher_support.hpp"

#include <stdexcept>

#include <boost/json.hpp>
#include <httplib.h>

namespace orasi::test {

namespace {

httplib::Client admin_client(uint16_t port) {
  httplib::Client client{"127.0.0.1", port};
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  return client;
}

std::optional<http_answer> answer_of(const httplib::Result& result) {
  if (!result)
    return std::nullopt;
  return http_answer{result->status, result->body,
                     result->get_header_value("Content-Type")};
}

std::vector<std::string> with_binary(std::vector<std::string> args) {
  args.insert(args.begin(), ORASI_LAUNCHER_PATH);
  return args;
}

} // namespace

launcher_process::launcher_process(std::vector<std::string> args,
                                   std::chrono::milliseconds startup)
    : process_(with_binary(std::move(args))) {
  if (process_.wait_for_output("admin API listening on", startup))
    port_ = admin_port_from_log(process_.output());
  if (port_ != 0)
    return;
  // Whether it died (and how) says more than its output alone.
  auto code = process_.wait_for_exit(std::chrono::milliseconds(0));
  throw std::runtime_error("the launcher's admin API did not come up (" +
                           (code == -1
                                ? std::string{"still running, killed"}
                                : "exit status " + std::to_string(code)) +
                           "); its output:\n" + process_.output());
}

std::optional<http_answer>
launcher_process::get(const std::string& path) const {
  auto client = admin_client(port_);
  return answer_of(client.Get(path.c_str()));
}

std::optional<http_answer>
launcher_process::put(const std::string& path,
                      const std::string& json_body) const {
  auto client = admin_client(port_);
  return answer_of(client.Put(path.c_str(), json_body, "application/json"));
}

boost::json::value launcher_process::get_json(const std::string& path,
                                              int* status) const {
  auto answer = get(path);
  if (!answer)
    throw std::runtime_error("no answer from the admin API to GET " + path);
  if (status)
    *status = answer->status;
  try {
    return boost::json::parse(answer->body);
  } catch (const std::exception& err) {
    throw std::runtime_error("GET " + path + ": not JSON (" + err.what() +
                             "): " + answer->body);
  }
}

std::string etcd_launcher_config(const std::vector<std::string>& endpoints,
                                 const boost::json::object& etcd) {
  boost::json::array urls;
  for (const auto& url : endpoints)
    urls.emplace_back(url);
  boost::json::object sd{
      {"backend", "etcd"},
      {"endpoints", std::move(urls)},
      {"health_check", boost::json::object{{"enabled", false}}},
      {"etcd", etcd}};
  return boost::json::serialize(boost::json::object{
      {"service_discovery", std::move(sd)},
      {"admin", boost::json::object{{"listen", "127.0.0.1:0"}}}});
}

std::string service_json(const std::string& name, const std::string& url) {
  return boost::json::serialize(boost::json::object{
      {"name", name},
      {"endpoints", boost::json::array{boost::json::object{
                        {"url", url}, {"health_status", "Healthy"}}}}});
}

} // namespace orasi::test
