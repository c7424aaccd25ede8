#include "backends/consul_client.hpp"

#include <cctype>

#include <httplib.h>

#include "backends/http_client.hpp"
#include "messages/errors.hpp"

namespace orasi::backends {

namespace {

/// Catalog and health reads are per datacenter; agent endpoints are not.
bool takes_datacenter(const std::string& path) {
  return path.rfind("/v1/catalog/", 0) == 0 ||
         path.rfind("/v1/health/", 0) == 0;
}

uint64_t index_of(const httplib::Response& res) {
  auto text = res.get_header_value("X-Consul-Index");
  try {
    return text.empty() ? 0 : std::stoull(text);
  } catch (const std::exception&) {
    return 0;
  }
}

} // namespace

std::string encode_path_segment(const std::string& text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

consul_agents::consul_agents(consul_client_options options)
    : options_(std::move(options)) {
  if (options_.agents.empty())
    options_.agents.emplace_back("http://127.0.0.1:8500");
  for (auto& url : options_.agents)
    while (!url.empty() && url.back() == '/')
      url.pop_back();
}

void consul_agents::failed(size_t agent) {
  auto next = (agent + 1) % options_.agents.size();
  current_.compare_exchange_strong(agent, next);
}

consul_connection::consul_connection(std::shared_ptr<consul_agents> agents)
    : agents_(std::move(agents)) {
  clients_.resize(agents_->size());
  for (size_t agent = 0; agent < clients_.size(); ++agent)
    client_for(agent);
}

consul_connection::~consul_connection() = default;

httplib::Client& consul_connection::client_for(size_t agent) {
  auto& slot = clients_[agent];
  if (!slot) {
    const auto& opts = agents_->options();
    slot = make_http_client(
        agents_->url(agent),
        {opts.dial_timeout, opts.request_timeout, opts.ca_file, {}, {}});
  }
  return *slot;
}

caf::expected<consul_reply>
consul_connection::send(const std::string& method, const std::string& target,
                        const std::string& body,
                        std::chrono::milliseconds read_timeout,
                        std::optional<size_t> pinned) {
  std::string problem;
  auto attempts = pinned ? size_t{1} : agents_->size();
  for (size_t i = 0; i < attempts; ++i) {
    auto agent = pinned ? *pinned : agents_->current();
    last_agent_ = agent;
    auto& client = client_for(agent);
    client.set_read_timeout(read_timeout);
    httplib::Request req;
    req.method = method;
    req.path = target;
    req.body = body;
    if (!agents_->options().token.empty())
      req.set_header("X-Consul-Token", agents_->options().token);
    if (method == "PUT")
      req.set_header("Content-Type", "application/json");
    {
      std::lock_guard<std::mutex> guard{active_mutex_};
      if (interrupted_)
        return make_error(errc::backend_unavailable, "consul: interrupted");
      active_ = &client;
    }
    bounded_body received{agents_->options().max_response_bytes};
    req.content_receiver = [&](const char* data, size_t size, uint64_t,
                               uint64_t) {
      return received.append(data, size);
    };
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    bool sent = client.send(req, res, error);
    res.body = std::move(received.body);
    {
      std::lock_guard<std::mutex> guard{active_mutex_};
      active_ = nullptr;
    }
    // The target may hold a query but never the token: safe to report.
    auto where = "consul " + agents_->url(agent) + target;
    // Another agent would send the same: the content is at fault.
    if (received.too_large)
      return make_error(errc::backend_rejected,
                        where + ": " + response_over_limit(received.limit));
    if (sent && res.status < 500)
      return consul_reply{res.status, std::move(res.body), index_of(res)};
    problem = sent ? where + ": HTTP " + std::to_string(res.status) + " " +
                         res.body.substr(0, 200)
                   : where + ": " + httplib::to_string(error);
    {
      // Our own interrupt says nothing about the agent.
      std::lock_guard<std::mutex> guard{active_mutex_};
      if (interrupted_)
        return make_error(errc::backend_unavailable, "consul: interrupted");
    }
    if (!pinned)
      agents_->failed(agent);
  }
  return make_error(errc::backend_unavailable, problem);
}

caf::expected<consul_reply>
consul_connection::get(const std::string& path, const std::string& query,
                       std::chrono::milliseconds read_timeout) {
  std::string target = path;
  std::string params = query;
  const auto& dc = agents_->options().datacenter;
  if (!dc.empty() && takes_datacenter(path))
    params += (params.empty() ? "" : "&") + std::string{"dc="} +
              httplib::detail::encode_query_param(dc);
  if (!params.empty())
    target += "?" + params;
  return send("GET", target, {}, read_timeout, std::nullopt);
}

caf::expected<consul_reply>
consul_connection::put(const std::string& path, const std::string& body,
                       std::optional<size_t> agent) {
  auto reply =
      send("PUT", path, body, agents_->options().request_timeout, agent);
  if (!reply)
    return reply;
  if (reply->status < 200 || reply->status >= 300)
    return make_error(errc::backend_rejected,
                      "consul " + path + ": HTTP " +
                          std::to_string(reply->status) + " " +
                          reply->body.substr(0, 200));
  return reply;
}

void consul_connection::interrupt() {
  std::lock_guard<std::mutex> guard{active_mutex_};
  interrupted_ = true;
  if (active_ != nullptr)
    active_->stop();
}

void consul_connection::resume() {
  std::lock_guard<std::mutex> guard{active_mutex_};
  interrupted_ = false;
}

} // namespace orasi::backends
