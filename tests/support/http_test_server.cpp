// Everything runs on the server's one event-loop thread except the public
// accessors (atomics), set_behavior() (a mutex) and close_idle_connections()
// (posts and waits).
#include "tests/support/http_test_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace orasi::test {

// --- behaviours ----------------------------------------------------------

server_behavior server_behavior::answer(uint16_t status, std::string body) {
  server_behavior result;
  result.status = status;
  result.body = std::move(body);
  return result;
}

server_behavior server_behavior::redirect(uint16_t status,
                                          std::string location) {
  auto result = answer(status, "");
  result.location = std::move(location);
  return result;
}

server_behavior server_behavior::slow(std::chrono::milliseconds delay,
                                      uint16_t status) {
  auto result = answer(status);
  result.delay = delay;
  return result;
}

namespace {

server_behavior replying(reply_kind kind) {
  server_behavior result;
  result.reply = kind;
  return result;
}

} // namespace

server_behavior server_behavior::blackhole() {
  return replying(reply_kind::blackhole);
}

server_behavior server_behavior::huge_body(size_t size) {
  auto result = replying(reply_kind::huge_body);
  result.body_size = size;
  return result;
}

server_behavior server_behavior::garbage_status_line() {
  return replying(reply_kind::garbage_status_line);
}

server_behavior server_behavior::close_mid_response() {
  return replying(reply_kind::close_mid_response);
}

server_behavior server_behavior::close_without_response() {
  return replying(reply_kind::close_without_response);
}

server_behavior server_behavior::after_interim(std::string interim,
                                               uint16_t status) {
  auto result = answer(status);
  result.interim = std::move(interim);
  return result;
}

server_behavior server_behavior::echo() {
  return replying(reply_kind::echo);
}

server_behavior server_behavior::chunked(std::vector<std::string> chunks,
                                         bool endless,
                                         std::chrono::milliseconds interval) {
  auto result = replying(reply_kind::chunked);
  result.chunks = std::move(chunks);
  result.endless = endless;
  result.chunk_interval = interval;
  return result;
}

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// --- wire text -----------------------------------------------------------

// Request bodies are echoed back (reply_kind::echo), never stored.
constexpr uint64_t request_body_limit = 1024 * 1024;

std::string head(uint16_t status, size_t content_length, bool keep_alive,
                 const std::string& location = {},
                 const std::string& extra_headers = {}) {
  auto reason = http::obsolete_reason(http::int_to_status(status));
  std::string text = "HTTP/1.1 " + std::to_string(status) + " ";
  text.append(reason.data(), reason.size());
  text += "\r\nContent-Type: text/plain\r\nContent-Length: " +
          std::to_string(content_length) + "\r\n";
  if (!location.empty())
    text += "Location: " + location + "\r\n";
  text += extra_headers;
  text += keep_alive ? "Connection: keep-alive\r\n\r\n"
                     : "Connection: close\r\n\r\n";
  return text;
}

std::string status_response(const server_behavior& behavior, bool keep_alive) {
  return head(behavior.status, behavior.body.size(), keep_alive,
              behavior.location, behavior.headers) +
         behavior.body;
}

std::string echo_response(const server_behavior& behavior,
                          const http::request<http::string_body>& request,
                          bool keep_alive) {
  auto method = request.method_string();
  std::string body(method.data(), method.size());
  body += " ";
  body.append(request.target().data(), request.target().size());
  body += "\n" + request.body();
  return head(200, body.size(), keep_alive, {}, behavior.headers) + body;
}

std::string chunked_head(bool keep_alive) {
  return std::string{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Transfer-Encoding: chunked\r\n"} +
         (keep_alive ? "Connection: keep-alive\r\n\r\n"
                     : "Connection: close\r\n\r\n");
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// Promises 100 bytes, delivers 10.
std::string truncated_response() {
  return head(200, 100, true) + std::string(10, 'x');
}

/// The bytes a huge body is streamed from, one chunk per write.
const std::string& filler_chunk() {
  static const std::string chunk(64 * 1024, 'x');
  return chunk;
}

// --- TLS -----------------------------------------------------------------

/// A fresh P-256 key and a self-signed certificate for "localhost", valid
/// for a day, installed in `context`.
void use_self_signed_certificate(ssl::context& context) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"),
                                                          EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert)
    throw std::runtime_error("cannot make a key and a certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  static const unsigned char common_name[] = "localhost";
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, common_name, -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0 ||
      SSL_CTX_use_certificate(context.native_handle(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(context.native_handle(), key.get()) != 1)
    throw std::runtime_error("cannot install a self-signed certificate");
}

class session;

/// The server's state; sessions reach it through a reference.
struct server_core {
  explicit server_core(http_test_server_options options)
      : behavior(std::move(options.behavior)),
        host(options.ipv6 ? "::1" : "127.0.0.1"),
        record_requests(options.record_requests) {
    if (options.tls) {
      tls_context.emplace(ssl::context::tls_server);
      use_self_signed_certificate(*tls_context);
    }
  }

  server_behavior current_behavior() const {
    std::lock_guard<std::mutex> guard{behavior_mutex};
    return behavior;
  }

  void forget(uint64_t session_id) {
    sessions.erase(session_id);
    --open_count;
  }

  void record(std::string target) {
    if (!record_requests)
      return;
    std::lock_guard<std::mutex> guard{recorded_mutex};
    recorded.push_back(
        recorded_request{std::move(target), std::chrono::steady_clock::now()});
  }

  mutable std::mutex behavior_mutex;
  server_behavior behavior; // guarded by behavior_mutex
  std::string host;
  bool record_requests = false;
  mutable std::mutex recorded_mutex;
  std::vector<recorded_request> recorded; // guarded by recorded_mutex
  std::atomic<size_t> accepted_count{0};
  std::atomic<size_t> request_count{0};
  std::atomic<size_t> open_count{0};
  std::optional<ssl::context> tls_context; // for https only
  asio::io_context io;
  // Weak: a session lives as long as its pending operations.
  std::unordered_map<uint64_t, std::weak_ptr<session>> sessions;
};

/// One accepted connection: reads requests and answers each as the
/// server's behaviour says at the time the request arrives.
class session : public std::enable_shared_from_this<session> {
public:
  using tls_stream = ssl::stream<tcp::socket>;
  using step = void (session::*)();

  session(server_core& server, uint64_t id, tcp::socket socket)
      : server_(server),
        id_(id),
        stream_(std::in_place_type<tcp::socket>, std::move(socket)),
        timer_(server.io) {}

  session(server_core& server, uint64_t id, tcp::socket socket,
          ssl::context& tls)
      : server_(server),
        id_(id),
        stream_(std::in_place_type<tls_stream>, std::move(socket), tls),
        timer_(server.io) {}

  void start() {
    auto* tls = std::get_if<tls_stream>(&stream_);
    if (!tls)
      return read_request();
    tls->async_handshake(ssl::stream_base::server,
                         [self = shared_from_this()](error_code ec) {
                           ec ? self->close() : self->read_request();
                         });
  }

  /// Waits for a request of which nothing arrived yet.
  bool idle() const { return waiting_ && buffer_.size() == 0; }

  /// Writes `bytes` at once (small: they fit the socket's buffer).
  void write_now(const std::string& bytes) {
    with_stream([&bytes](auto& stream) {
      error_code ignored;
      asio::write(stream, asio::buffer(bytes), ignored);
    });
  }

  void close() {
    if (closed_)
      return;
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    socket().close(ignored);
    server_.forget(id_);
  }

private:
  tcp::socket& socket() {
    if (auto* tls = std::get_if<tls_stream>(&stream_))
      return tls->next_layer();
    return std::get<tcp::socket>(stream_);
  }

  template <class F>
  void with_stream(F&& f) {
    std::visit(std::forward<F>(f), stream_);
  }

  void read_request() {
    waiting_ = true;
    parser_.emplace();
    parser_->body_limit(request_body_limit);
    with_stream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_,
                       [self = shared_from_this()](error_code ec, size_t) {
                         self->on_request(ec);
                       });
    });
  }

  void on_request(error_code ec) {
    waiting_ = false;
    if (ec)
      return close();
    ++server_.request_count;
    server_.record(std::string{parser_->get().target()});
    ++requests_here_;
    auto behavior = server_.current_behavior();
    keep_alive_ = parser_->get().keep_alive();
    if (behavior.drop_reused_connections && requests_here_ > 1)
      return close();
    if (behavior.delay.count() <= 0)
      return reply(behavior);
    timer_.expires_after(behavior.delay);
    timer_.async_wait([self = shared_from_this(), behavior](error_code ec) {
      if (!ec && !self->closed_)
        self->reply(behavior);
    });
  }

  void reply(const server_behavior& behavior) {
    switch (behavior.reply) {
    case reply_kind::status:
      return send(behavior.interim + status_response(behavior, keep_alive_),
                  &session::after_response);
    case reply_kind::blackhole:
      return drain();
    case reply_kind::huge_body:
      body_left_ = behavior.body_size;
      return send(head(200, body_left_, keep_alive_), &session::send_body);
    case reply_kind::garbage_status_line:
      return send("HELLO\r\n\r\n", &session::close_gracefully);
    case reply_kind::close_mid_response:
      return send(truncated_response(), &session::close_gracefully);
    case reply_kind::close_without_response:
      return close_gracefully();
    case reply_kind::echo:
      return send(echo_response(behavior, parser_->get(), keep_alive_),
                  &session::after_response);
    case reply_kind::chunked:
      chunks_ = behavior;
      next_chunk_ = 0;
      return send(chunked_head(keep_alive_), &session::send_chunk);
    }
  }

  void after_response() { keep_alive_ ? read_request() : close_gracefully(); }

  // One chunk per write, `chunk_interval` apart; then the last-chunk, or
  // nothing more for an endless stream (which waits for the client to go).
  void send_chunk() {
    if (next_chunk_ == chunks_.chunks.size())
      return chunks_.endless ? drain()
                             : send("0\r\n\r\n", &session::after_response);
    auto data = chunk(chunks_.chunks[next_chunk_++]);
    if (next_chunk_ == 1 || chunks_.chunk_interval.count() <= 0)
      return send(std::move(data), &session::send_chunk);
    timer_.expires_after(chunks_.chunk_interval);
    timer_.async_wait([self = shared_from_this(), data](error_code ec) {
      if (!ec && !self->closed_)
        self->send(data, &session::send_chunk);
    });
  }

  void send_body() {
    if (body_left_ == 0)
      return after_response();
    auto size = std::min(body_left_, filler_chunk().size());
    body_left_ -= size;
    send_buffer(asio::buffer(filler_chunk().data(), size), &session::send_body);
  }

  void send(std::string data, step next) {
    outgoing_ = std::move(data);
    send_buffer(asio::buffer(outgoing_), next);
  }

  void send_buffer(asio::const_buffer data, step next) {
    with_stream([this, data, next](auto& stream) {
      asio::async_write(
          stream, data,
          [self = shared_from_this(), next](error_code ec, size_t) {
            if (ec || self->closed_)
              return self->close();
            ((*self).*next)();
          });
    });
  }

  // Closing with unread input makes the kernel send a reset, which would
  // destroy the bytes just sent: send FIN, then wait for the client's.
  void close_gracefully() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain();
  }

  /// Reads and discards until the client closes, then closes.
  void drain() {
    with_stream([this](auto& stream) {
      stream.async_read_some(
          asio::buffer(discard_),
          [self = shared_from_this()](error_code ec, size_t) {
            ec ? self->close() : self->drain();
          });
    });
  }

  server_core& server_;
  uint64_t id_;
  std::variant<tcp::socket, tls_stream> stream_;
  asio::steady_timer timer_; // for slow answers
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  server_behavior chunks_; // of a chunked reply
  size_t next_chunk_ = 0;  // of chunks_.chunks
  std::string outgoing_;   // what is being written
  std::array<char, 4096> discard_;
  size_t body_left_ = 0;     // of a huge body
  size_t requests_here_ = 0; // on this connection
  bool keep_alive_ = true;   // of the request being answered
  bool waiting_ = false;     // for the next request
  bool closed_ = false;
};

tcp::endpoint loopback(const std::string& host) {
  return {asio::ip::make_address(host), 0};
}

} // namespace

/// Member order matters for destruction: the acceptor and the timer need
/// `io`, so they come after it (sessions die with io's pending handlers).
struct http_test_server::impl : server_core {
  explicit impl(http_test_server_options options)
      : server_core(std::move(options)) {
    acceptor.open(loopback(host).protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(loopback(host));
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
    accept();
    thread = std::thread([this] { io.run(); });
  }

  ~impl() {
    work.reset();
    io.stop();
    thread.join();
  }

  void accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (ec) // e.g. out of descriptors: try again shortly
        return accept_later();
      start_session(std::move(socket));
      accept();
    });
  }

  void accept_later() {
    accept_retry.expires_after(std::chrono::milliseconds(10));
    accept_retry.async_wait([this](error_code ec) {
      if (!ec)
        accept();
    });
  }

  void start_session(tcp::socket socket) {
    ++accepted_count;
    ++open_count;
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto id = next_session_id++;
    auto started =
        tls_context ? std::make_shared<session>(*this, id, std::move(socket),
                                                *tls_context)
                    : std::make_shared<session>(*this, id, std::move(socket));
    sessions.emplace(id, started);
    started->start();
  }

  void close_idle(const std::string& farewell) {
    std::vector<std::shared_ptr<session>> idle;
    for (auto& entry : sessions)
      if (auto alive = entry.second.lock(); alive && alive->idle())
        idle.push_back(std::move(alive));
    for (auto& each : idle) {
      if (!farewell.empty())
        each->write_now(farewell);
      each->close();
    }
  }

  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  uint64_t next_session_id = 0;
  uint16_t port = 0;
  std::thread thread;
};

http_test_server::http_test_server(http_test_server_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  // Listening and serving from here on.
}

http_test_server::~http_test_server() = default;

uint16_t http_test_server::port() const {
  return impl_->port;
}

const std::string& http_test_server::host() const {
  return impl_->host;
}

void http_test_server::set_behavior(server_behavior behavior) {
  std::lock_guard<std::mutex> guard{impl_->behavior_mutex};
  impl_->behavior = std::move(behavior);
}

std::vector<recorded_request> http_test_server::recorded_requests() const {
  std::lock_guard<std::mutex> guard{impl_->recorded_mutex};
  return impl_->recorded;
}

size_t http_test_server::connections_accepted() const {
  return impl_->accepted_count.load();
}

size_t http_test_server::requests_received() const {
  return impl_->request_count.load();
}

size_t http_test_server::open_connections() const {
  return impl_->open_count.load();
}

void http_test_server::close_idle_connections(const std::string& farewell) {
  std::promise<void> closed;
  asio::post(impl_->io, [this, &closed, &farewell] {
    impl_->close_idle(farewell);
    closed.set_value();
  });
  closed.get_future().wait();
}

uint16_t refused_port() {
  asio::io_context io;
  tcp::acceptor acceptor{io, loopback("127.0.0.1")};
  return acceptor.local_endpoint().port();
}

bool ipv6_loopback_available() {
  try {
    asio::io_context io;
    tcp::acceptor acceptor{io, loopback("::1")};
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace orasi::test
