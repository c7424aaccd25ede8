#include "backends/etcd_client.hpp"

#include <thread>

#include <boost/json.hpp>
#include <httplib.h>

#include "backends/etcd_wire.hpp"
#include "backends/http_client.hpp"
#include "messages/errors.hpp"

namespace orasi::backends {

namespace {

constexpr auto pause_between_rounds = std::chrono::milliseconds(250);

caf::error interrupted_error() {
  return make_error(errc::backend_unavailable, "etcd: interrupted");
}

/// Hands every complete line in `buffer` to `on_line` and keeps the rest.
/// False once on_line asks to stop.
bool drain_lines(std::string& buffer,
                 const std::function<bool(std::string_view)>& on_line) {
  size_t start = 0;
  for (auto end = buffer.find('\n'); end != std::string::npos;
       end = buffer.find('\n', start)) {
    std::string_view line{buffer.data() + start, end - start};
    start = end + 1;
    if (!line.empty() && !on_line(line)) {
      buffer.erase(0, start);
      return false;
    }
  }
  buffer.erase(0, start);
  return true;
}

/// True if `body` is one complete JSON value.
bool is_complete_json(const std::string& body) {
  boost::json::error_code ec;
  boost::json::parse(body, ec);
  return !ec;
}

/// POSTs and reads the whole response into `res`, at most `limit` bytes of
/// body (`too_large` says a bigger one was cut off). httplib 0.11 fails a
/// chunked response that ends with trailers, which etcd's gateway sends
/// after every error body, with Error::Read once the body has been read in
/// full; such a response counts if its status line arrived and its body is
/// complete JSON (a connection cut mid-body leaves incomplete JSON).
bool post(httplib::Client& client, const std::string& path,
          const httplib::Headers& headers, const std::string& body,
          size_t limit, httplib::Response& res, httplib::Error& error,
          bool& too_large) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = headers;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  bounded_body received{limit};
  req.content_receiver = [&](const char* data, size_t size, uint64_t,
                             uint64_t) { return received.append(data, size); };
  bool sent = client.send(req, res, error);
  res.body = std::move(received.body);
  too_large = received.too_large;
  if (too_large)
    return false;
  if (sent)
    return true;
  return error == httplib::Error::Read && res.status > 0 &&
         is_complete_json(res.body);
}

} // namespace

// -- etcd_members -------------------------------------------------------------

etcd_members::etcd_members(etcd_client_options options)
    : options_(std::move(options)) {
  if (options_.endpoints.empty())
    options_.endpoints.emplace_back("http://127.0.0.1:2379");
  // httplib would take a trailing '/' as part of the host name.
  for (auto& url : options_.endpoints)
    while (!url.empty() && url.back() == '/')
      url.pop_back();
}

void etcd_members::failed(size_t member) {
  auto next = (member + 1) % options_.endpoints.size();
  current_.compare_exchange_strong(member, next);
}

std::string etcd_members::token() const {
  std::lock_guard<std::mutex> guard{token_mutex_};
  return token_;
}

void etcd_members::set_token(std::string token) {
  std::lock_guard<std::mutex> guard{token_mutex_};
  token_ = std::move(token);
}

// -- etcd_connection ----------------------------------------------------------

etcd_connection::etcd_connection(std::shared_ptr<etcd_members> members)
    : members_(std::move(members)) {
  // All at once: a URL httplib cannot take fails here, not at a failover.
  clients_.resize(members_->size());
  for (size_t member = 0; member < clients_.size(); ++member)
    client_for(member);
}

etcd_connection::~etcd_connection() = default;

httplib::Client& etcd_connection::client_for(size_t member) {
  auto& slot = clients_[member];
  if (!slot) {
    const auto& opts = members_->options();
    slot = make_http_client(members_->url(member),
                            {opts.dial_timeout, opts.request_timeout,
                             opts.ca_file, opts.cert_file, opts.key_file});
  }
  return *slot;
}

caf::error etcd_connection::authenticate(size_t member) {
  const auto& opts = members_->options();
  auto& client = client_for(member);
  httplib::Response reply;
  auto* res = &reply;
  httplib::Error error = httplib::Error::Success;
  bool too_large = false;
  if (!post(client, "/v3/auth/authenticate", {},
            etcd::authenticate_request(opts.username, opts.password),
            opts.max_response_bytes, reply, error, too_large))
    return make_error(
        too_large ? errc::backend_rejected : errc::backend_unavailable,
        "etcd " + members_->url(member) + ": authenticate: " +
            (too_large ? response_over_limit(opts.max_response_bytes)
                       : httplib::to_string(error)));
  if (res->status != 200) {
    auto err = etcd::decode_gateway_error(res->body);
    // Never echo the password; etcd's message names only the failure.
    return make_error(
        errc::backend_rejected,
        "etcd authentication as \"" + opts.username + "\" failed: " +
            (err ? err->message : "HTTP " + std::to_string(res->status)));
  }
  auto token = etcd::decode_auth_token(res->body);
  if (!token)
    return std::move(token.error());
  members_->set_token(std::move(*token));
  return {};
}

etcd_connection::attempt_status
etcd_connection::attempt(size_t member, const std::string& path,
                         const std::string& body, std::string& response,
                         int& grpc_code) {
  const bool auth = !members_->options().username.empty();
  for (int tries = 0; tries < 2; ++tries) {
    if (auth && members_->token().empty()) {
      if (auto err = authenticate(member)) {
        response = error_message(err);
        return static_cast<errc>(err.code()) == errc::backend_unavailable
                   ? attempt_status::transport_error
                   : attempt_status::rejected;
      }
    }
    httplib::Headers headers;
    if (auth)
      headers.emplace("Authorization", members_->token());
    auto& client = client_for(member);
    // Checked under the lock interrupt() takes: an interrupt either sees
    // this call as active or this call sees the interrupt.
    {
      std::lock_guard<std::mutex> guard{active_mutex_};
      if (interrupted_) {
        response = "interrupted";
        return attempt_status::transport_error;
      }
      active_ = &client;
    }
    httplib::Response reply;
    auto* res = &reply;
    httplib::Error error = httplib::Error::Success;
    bool too_large = false;
    bool received =
        post(client, path, headers, body,
             members_->options().max_response_bytes, reply, error, too_large);
    {
      std::lock_guard<std::mutex> guard{active_mutex_};
      active_ = nullptr;
    }
    last_member_ = member;
    // Another member would send the same: the content is at fault.
    if (too_large) {
      response = response_over_limit(members_->options().max_response_bytes);
      return attempt_status::rejected;
    }
    if (!received) {
      response = httplib::to_string(error);
      return attempt_status::transport_error;
    }
    if (res->status == 200) {
      response = std::move(res->body);
      return attempt_status::ok;
    }
    auto err = etcd::decode_gateway_error(res->body);
    if (!err) {
      response = "HTTP " + std::to_string(res->status);
      return res->status >= 500 ? attempt_status::unavailable
                                : attempt_status::rejected;
    }
    grpc_code = err->code;
    response = err->message;
    // An expired token: fetch a new one and try once more.
    if (auth && err->code == etcd::grpc_code::unauthenticated && tries == 0) {
      members_->set_token({});
      continue;
    }
    return err->code == etcd::grpc_code::unavailable
               ? attempt_status::unavailable
               : attempt_status::rejected;
  }
  return attempt_status::rejected;
}

caf::expected<std::string> etcd_connection::call(const std::string& path,
                                                 const std::string& body,
                                                 int* grpc_code, int rounds) {
  std::string problem;
  for (int round = 0; round < rounds; ++round) {
    if (round > 0)
      std::this_thread::sleep_for(pause_between_rounds);
    for (size_t i = 0; i < members_->size(); ++i) {
      if (interrupted_)
        return interrupted_error();
      auto member = members_->current();
      std::string response;
      int code = 0;
      switch (attempt(member, path, body, response, code)) {
      case attempt_status::ok:
        return response;
      case attempt_status::rejected:
        if (grpc_code != nullptr)
          *grpc_code = code;
        return make_error(errc::backend_rejected, "etcd " +
                                                      members_->url(member) +
                                                      path + ": " + response);
      case attempt_status::transport_error:
      case attempt_status::unavailable:
        problem = members_->url(member) + ": " + response;
        members_->failed(member);
        break;
      }
    }
  }
  return make_error(errc::backend_unavailable, "etcd: no member answered " +
                                                   path + " (last: " + problem +
                                                   ")");
}

caf::expected<std::string> etcd_connection::call_once(const std::string& path,
                                                      const std::string& body) {
  auto member = members_->current();
  std::string response;
  int code = 0;
  if (attempt(member, path, body, response, code) == attempt_status::ok)
    return response;
  return make_error(errc::backend_unavailable,
                    "etcd " + members_->url(member) + path + ": " + response);
}

caf::error
etcd_connection::stream(const std::string& path, const std::string& body,
                        const std::function<bool(std::string_view)>& on_line,
                        std::chrono::milliseconds idle_timeout) {
  if (interrupted_)
    return interrupted_error();
  auto member = members_->current();
  last_member_ = member;
  const auto& opts = members_->options();
  if (!opts.username.empty() && members_->token().empty())
    if (auto err = authenticate(member))
      return err;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  // etcd cancels the watch if this member loses its leader, instead of
  // keeping a stream open that delivers nothing while cut off.
  req.set_header("Grpc-Metadata-hasleader", "true");
  if (!opts.username.empty())
    req.set_header("Authorization", members_->token());
  std::string buffer;
  bool stopped_by_reader = false;
  bool too_large = false;
  req.content_receiver = [&](const char* data, size_t size, uint64_t,
                             uint64_t) {
    buffer.append(data, size);
    if (!drain_lines(buffer, on_line)) {
      stopped_by_reader = true;
      return false;
    }
    // What remains is one message still arriving.
    too_large = buffer.size() > opts.max_response_bytes;
    return !too_large && !interrupted_.load();
  };
  auto& client = client_for(member);
  client.set_read_timeout(idle_timeout);
  {
    std::lock_guard<std::mutex> guard{active_mutex_};
    if (interrupted_) {
      client.set_read_timeout(opts.request_timeout);
      return interrupted_error();
    }
    active_ = &client;
  }
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  bool sent = client.send(req, res, error);
  {
    std::lock_guard<std::mutex> guard{active_mutex_};
    active_ = nullptr;
  }
  client.set_read_timeout(opts.request_timeout);
  if (stopped_by_reader)
    return {};
  if (interrupted_)
    return interrupted_error();
  if (too_large)
    return make_error(errc::backend_rejected,
                      "etcd " + members_->url(member) + path + ": watch " +
                          response_over_limit(opts.max_response_bytes));
  // A final message without a newline (e.g. an error body).
  if (!buffer.empty() && !on_line(buffer))
    return {};
  auto where = "etcd " + members_->url(member) + path;
  if (!sent)
    return make_error(errc::backend_unavailable,
                      where + ": " + httplib::to_string(error));
  if (res.status != 200)
    return make_error(errc::backend_unavailable,
                      where + ": HTTP " + std::to_string(res.status));
  return make_error(errc::backend_unavailable, where + ": stream ended");
}

void etcd_connection::interrupt() {
  std::lock_guard<std::mutex> guard{active_mutex_};
  interrupted_ = true;
  if (active_ != nullptr)
    active_->stop();
}

void etcd_connection::resume() {
  interrupted_ = false;
}

} // namespace orasi::backends
