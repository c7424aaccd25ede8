#include "admin/admin_cli.hpp"

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include <boost/json.hpp>
#include <httplib.h>

#include "messages/json_codec.hpp"
#include "runtime/config/gateway_config.hpp"

namespace json = boost::json;

namespace orasi::cli {

namespace {

struct options {
  std::string command;
  std::string admin;
  std::string token;
  std::string id;
  std::string file;
  bool healthy = false;
  bool as_json = false;
};

const char* usage_text =
    "usage: orasi-discovery services [--healthy] [--json]\n"
    "       orasi-discovery register --id ID --file FILE\n"
    "       orasi-discovery deregister ID\n"
    "       orasi-discovery watch [--json]\n"
    "options: --admin HOST:PORT (default $ORASI_ADMIN or 127.0.0.1:9650)\n"
    "         --token TOKEN     (default $ORASI_ADMIN_TOKEN)\n"
    "exit codes: 0 done, 1 refused, 2 usage, 3 unreachable, 4 not found\n";

int usage(const std::string& problem) {
  if (!problem.empty())
    std::cerr << "orasi-discovery: " << problem << "\n";
  std::cerr << usage_text;
  return exit_usage;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

/// Fills `out` from argv[2..]; returns a problem, or "" if usable.
std::string parse(int argc, char** argv, options& out) {
  out.command = argv[1];
  out.admin = env_or("ORASI_ADMIN", "127.0.0.1:9650");
  out.token = env_or("ORASI_ADMIN_TOKEN", "");
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc)
        return false;
      into = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--admin")
      ok = value(out.admin);
    else if (arg == "--token")
      ok = value(out.token);
    else if (arg == "--id")
      ok = value(out.id);
    else if (arg == "--file")
      ok = value(out.file);
    else if (arg == "--healthy")
      out.healthy = true;
    else if (arg == "--json")
      out.as_json = true;
    else if (out.command == "deregister" && out.id.empty() && arg[0] != '-')
      out.id = arg;
    else
      return "unknown argument " + arg;
    if (!ok)
      return arg + " needs a value";
  }
  return {};
}

struct admin_client {
  httplib::Client http;
  explicit admin_client(const options& opts, std::string host, uint16_t port)
      : http(std::move(host), port) {
    http.set_connection_timeout(std::chrono::seconds(3));
    http.set_read_timeout(std::chrono::seconds(90)); // watches wait 60 s
    // httplib sends a PUT's headers and body apart: with Nagle on, the body
    // could wait for the server's delayed ACK.
    http.set_tcp_nodelay(true);
    if (!opts.token.empty())
      http.set_default_headers({{"Authorization", "Bearer " + opts.token}});
  }
};

/// Maps an answer to an exit code, printing the server's error if any.
int outcome(const httplib::Result& res) {
  if (!res) {
    std::cerr << "orasi-discovery: admin API unreachable: "
              << httplib::to_string(res.error()) << "\n";
    return exit_unreachable;
  }
  if (res->status >= 200 && res->status < 300)
    return exit_done;
  std::string message = res->body;
  json::error_code ec;
  auto body = json::parse(res->body, ec);
  if (!ec && body.is_object() && body.as_object().contains("error") &&
      body.at("error").is_string())
    message = json::value_to<std::string>(body.at("error"));
  std::cerr << "orasi-discovery: HTTP " << res->status << ": " << message
            << "\n";
  return res->status == 404 ? exit_not_found : exit_refused;
}

std::string state_of(const json::value& service) {
  auto* state = service.as_object().if_contains("health_status");
  return state != nullptr && state->is_string()
             ? json::value_to<std::string>(*state)
             : "Unknown";
}

/// SERVICE  NAME  STATE  ENDPOINTS (healthy/total), one line per service.
void print_table(const json::object& services) {
  std::cout << std::left << std::setw(28) << "SERVICE" << std::setw(24)
            << "NAME" << std::setw(11) << "STATE"
            << "ENDPOINTS\n";
  for (const auto& [id, service] : services) {
    size_t healthy = 0;
    size_t total = 0;
    if (auto* endpoints = service.as_object().if_contains("endpoints"))
      for (const auto& endpoint : endpoints->as_array()) {
        ++total;
        healthy += state_of(endpoint) == "Healthy";
      }
    auto name = service.as_object().if_contains("name");
    std::cout << std::setw(28) << std::string{id} << std::setw(24)
              << (name ? json::value_to<std::string>(*name) : "")
              << std::setw(11) << state_of(service) << healthy << "/" << total
              << "\n";
  }
}

int services(admin_client& client, const options& opts) {
  auto res =
      client.http.Get(opts.healthy ? "/v1/health/services" : "/v1/services");
  if (auto code = outcome(res); code != exit_done)
    return code;
  if (opts.as_json) {
    std::cout << res->body;
    return exit_done;
  }
  print_table(json::parse(res->body).as_object());
  return exit_done;
}

int register_service(admin_client& client, const options& opts) {
  if (opts.id.empty() || opts.file.empty())
    return usage("register needs --id and --file");
  std::ifstream in{opts.file, std::ios::binary};
  if (!in) {
    std::cerr << "orasi-discovery: cannot read " << opts.file << "\n";
    return exit_usage;
  }
  std::stringstream body;
  body << in.rdbuf();
  auto res = client.http.Put(
      ("/v1/services/" + httplib::detail::encode_query_param(opts.id)).c_str(),
      body.str(), "application/json");
  if (auto code = outcome(res); code != exit_done)
    return code;
  std::cout << (opts.as_json ? res->body : "registered " + opts.id + "\n");
  return exit_done;
}

int deregister_service(admin_client& client, const options& opts) {
  if (opts.id.empty())
    return usage("deregister needs a service id");
  auto res = client.http.Delete(
      ("/v1/services/" + httplib::detail::encode_query_param(opts.id)).c_str());
  if (auto code = outcome(res); code != exit_done)
    return code;
  std::cout << (opts.as_json ? res->body : "deregistered " + opts.id + "\n");
  return exit_done;
}

/// Prints the services at every new version until interrupted.
int watch(admin_client& client, const options& opts) {
  uint64_t index = 0;
  for (;;) {
    auto res = client.http.Get(
        ("/v1/watch?wait=60s&index=" + std::to_string(index)).c_str());
    if (auto code = outcome(res); code != exit_done)
      return code;
    auto body = json::parse(res->body).as_object();
    auto version = body.at("version").to_number<uint64_t>();
    if (version == index)
      continue; // the wait passed without a change
    index = version;
    if (opts.as_json) {
      std::cout << res->body << std::flush;
      continue;
    }
    std::cout << "-- version " << version
              << (body.at("stale").as_bool() ? " (stale)" : "") << "\n";
    print_table(body.at("services").as_object());
    std::cout << std::flush;
  }
}

} // namespace

bool is_command(const std::string& command) {
  return command == "services" || command == "register" ||
         command == "deregister" || command == "watch";
}

int run(int argc, char** argv) {
  options opts;
  if (auto problem = parse(argc, argv, opts); !problem.empty())
    return usage(problem);
  std::string host;
  uint16_t port = 0;
  if (!parse_listen_address(opts.admin, host, port) || port == 0)
    return usage("--admin: \"" + opts.admin + "\" is not host:port");
  admin_client client{opts, host, port};
  try {
    if (opts.command == "services")
      return services(client, opts);
    if (opts.command == "register")
      return register_service(client, opts);
    if (opts.command == "deregister")
      return deregister_service(client, opts);
    return watch(client, opts);
  } catch (const std::exception& ex) {
    // E.g. a proxy's HTML page where the admin API's JSON was expected.
    std::cerr << "orasi-discovery: unexpected answer from " << opts.admin
              << ": " << ex.what() << "\n";
    return exit_refused;
  }
}

} // namespace orasi::cli
