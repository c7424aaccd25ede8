// The prober engine. Everything below runs on the engine thread except
// submit() and the schedule calls, which only post; so no state here needs a
// lock, and the counters are atomics only because other threads read them.
#include "probing/http_prober.hpp"

#include "backends/loopback_guard.hpp"
#include "probing/check_scheduler.hpp"
#include "probing/http_connection_pool.hpp"
#include "probing/http_host_cache.hpp"
#include "probing/probe_response.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

namespace orasi {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using http_pool::connection;
using http_pool::connection_ptr;
using http_pool::host_cache;
using http_pool::idle_pool;
using http_pool::lookup_result;
using http_pool::steady;

constexpr const char* user_agent = "orasi-discovery-health-check";
constexpr uint16_t request_timeout_status = 408;

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

struct failure_cause {
  probe_failure failure;
  std::string detail;
};

/// `local` when `ec` is a shortage of the prober's own (out of descriptors,
/// memory, ports): that is no verdict on the endpoint.
std::optional<failure_cause> local_cause(const error_code& ec) {
  if (ec.category() != boost::system::system_category())
    return std::nullopt;
  auto* shortage = http_pool::local_shortage(ec.value());
  if (!shortage)
    return std::nullopt;
  return failure_cause{probe_failure::local,
                       std::string(shortage) + " (" + ec.message() + ")"};
}

/// A socket error: local (see local_cause) or the connection's.
failure_cause socket_cause(const error_code& ec, const char* what) {
  if (auto local = local_cause(ec))
    return *local;
  return {probe_failure::connection, what + ec.message()};
}

/// The signs that a pooled connection was closed by its server while idle.
bool closed_by_peer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

failure_cause classify_connect_error(const error_code& ec) {
  if (ec == asio::error::connection_refused)
    return {probe_failure::refused, "connect failed: " + ec.message()};
  return socket_cause(ec, "connect failed: ");
}

/// The lookup the engine's host cache runs: getaddrinfo, or the tests' hook.
http_pool::lookup_function lookup_for(const http_prober_options& options) {
  if (!options.resolve_hook)
    return http_pool::system_lookup;
  return [hook = options.resolve_hook](const std::string& host) {
    lookup_result result;
    for (auto& literal : hook(host)) {
      error_code invalid;
      auto address = asio::ip::make_address(literal, invalid);
      if (!invalid)
        result.addresses.push_back(address);
    }
    if (result.addresses.empty())
      result.error = "not found (resolve_hook)";
    return result;
  };
}

host_cache::config host_cache_config(const http_prober_options& options) {
  return {options.dns_ttl, options.dns_failure_ttl, options.resolver_threads,
          lookup_for(options)};
}

/// The engine's state, shared by every attempt. Member order matters for
/// destruction: handlers still queued in `io` are destroyed with it and
/// release connections, which touch the counters and the TLS context
/// (declared before it); pooled sockets need `io`, so the pool comes after;
/// the host cache posts lookup results to `io`, so it comes after too, and
/// its lookup threads are joined before `io` goes.
class engine {
public:
  explicit engine(http_prober_options opts)
      : options(std::move(opts)),
        pool(options.max_idle_per_host,
             options.max_idle_connections.value_or(idle_pool::no_cap)),
        hosts(io, host_cache_config(options)) {
    if (options.tls_verify)
      tls_context.set_default_verify_paths();
    schedule_sweep();
    thread_ = std::thread([this] { run(); });
  }

  /// Starts an attempt of a scheduled check (defined below, with attempt).
  void start_scheduled_attempt(attempt_request request);

  // No completion runs after this: the loop stops first, and lookups that
  // end later only post to the stopped loop. Joining the lookup threads
  // waits for a getaddrinfo still blocked (on a dead DNS server, say).
  ~engine() { shutdown(); }

  /// Stops the loop and joins the engine's threads; idempotent. A
  /// completion must never call it (nor own the last reference to the
  /// prober): the loop would join itself (checked in debug builds).
  void shutdown() {
    if (!thread_.joinable())
      return;
    assert(std::this_thread::get_id() != thread_.get_id());
    stopping_ = true;
    work_.reset();
    io.stop();
    thread_.join();
    // Attempts still out never finish (their completions are not called):
    // none is in flight any more.
    in_flight_count = 0;
    pool.clear();
    hosts.stop();
  }

  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  const http_prober_options options;
  std::atomic<size_t> open_count{0};
  std::atomic<size_t> in_flight_count{0};
  std::atomic<size_t> schedule_count{0}; // scheduler.schedules(), for others
  ssl::context tls_context{ssl::context::tls_client};
  asio::io_context io;
  idle_pool pool;
  host_cache hosts;
  check_scheduler scheduler{[this](attempt_request request) {
    start_scheduled_attempt(std::move(request));
  }};

private:
  // A completion that throws must not end the engine thread: log, go on.
  void run() {
    while (!stopping_) {
      try {
        turn();
      } catch (const std::exception& err) {
        spdlog::error("http prober: an attempt's completion threw: {}",
                      err.what());
        pause_after_error();
      } catch (...) {
        spdlog::error("http prober: an attempt's completion threw");
        pause_after_error();
      }
    }
  }

  /// A throw that repeats every turn must not spin the loop.
  void pause_after_error() {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  /// One turn of the loop: the I/O that is ready, the checks that are due,
  /// the outcomes whose batch is complete, then a wait.
  void turn() {
    io.poll();
    if (stopping_)
      return;
    auto now = steady::now();
    scheduler.run_due(now);
    io.poll(); // the attempts just started, as far as they go without waiting
    deliver_outcomes(steady::now());
    wait();
  }

  /// A batch goes when it is `outcome_batch_window` old or full: the
  /// checks of a busy second cost a few deliveries, not one each.
  void deliver_outcomes(steady::time_point now) {
    auto pending = scheduler.pending_outcomes();
    if (pending == 0)
      return;
    if (!flush_at_)
      flush_at_ = now + options.outcome_batch_window;
    if (now >= *flush_at_ || pending >= options.outcome_batch_limit) {
      flush_at_.reset(); // first: a sink that throws must not leave it due
      scheduler.flush();
    }
  }

  /// With attempts out, the loop sleeps to the next tick and then takes
  /// every answer that came meanwhile in one wake-up, instead of waking for
  /// each; idle, it sleeps in the reactor until the next due check (on the
  /// tick grid, so that checks due together start together) or until work
  /// is posted.
  void wait() {
    auto now = steady::now();
    if (in_flight_count > 0) {
      std::this_thread::sleep_until(next_tick(now));
      return;
    }
    auto wake = scheduler.next_due();
    if (flush_at_)
      wake = wake ? std::min(*wake, *flush_at_) : *flush_at_;
    if (!wake)
      io.run_one();
    else if (*wake > now)
      io.run_one_until(next_tick(*wake - std::chrono::nanoseconds{1}));
  }

  /// The first point of the tick grid after `t`.
  steady::time_point next_tick(steady::time_point t) const {
    auto tick = std::max<steady::duration>(options.schedule_tick,
                                           std::chrono::microseconds{1});
    auto since = t.time_since_epoch();
    return steady::time_point{(since / tick + 1) * tick};
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(http_pool::sweep_period(options.idle_timeout));
    sweep_timer_.async_wait([this](error_code ec) {
      if (ec)
        return;
      pool.sweep(steady::now(), options.idle_timeout);
      hosts.sweep(steady::now());
      schedule_sweep();
    });
  }

  asio::steady_timer sweep_timer_{io};
  asio::executor_work_guard<asio::io_context::executor_type> work_{
      io.get_executor()};
  std::optional<steady::time_point> flush_at_; // of the pending outcomes
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// One attempt: resolve, connect, handshake, send and receive (or reuse a
/// pooled connection and only send and receive), all under one deadline.
/// Whatever ends it first calls finish(), which runs exactly once; every
/// handler that comes later sees `finished_` and returns.
class attempt : public std::enable_shared_from_this<attempt> {
public:
  attempt(engine& eng, attempt_request request, http_prober::completion done,
          steady::time_point submitted)
      : engine_(eng),
        request_(std::move(request)),
        done_(std::move(done)),
        submitted_(submitted),
        deadline_(eng.io) {
    build_request();
  }

  void start() {
    ++engine_.in_flight_count;
    arm_deadline();
    conn_ = engine_.pool.take(pool_key());
    reused_ = conn_ != nullptr;
    if (reused_)
      send_request();
    else
      connect();
  }

private:
  enum class stage { resolving, connecting, handshaking, sending, receiving };

  const probe_target& target() const { return request_.target; }

  idle_pool::key pool_key() const {
    return {target().tls, target().host, target().port};
  }

  // The request is the same for every attempt at an endpoint, and small:
  // written out once as the bytes to send, it costs one allocation instead
  // of a header list and a serializer.
  void build_request() {
    std::string_view path = target().path;
    if (path.empty())
      path = "/";
    std::string_view host = target().host_header;
    if (host.empty())
      host = target().host;
    const char* connection =
        engine_.options.keep_alive ? "keep-alive" : "close";
    auto& out = request_bytes_;
    out.reserve(96 + path.size() + host.size());
    out.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ");
    out.append(host).append("\r\nUser-Agent: ").append(user_agent);
    out.append("\r\nAccept: */*\r\nConnection: ").append(connection);
    out.append("\r\n\r\n");
  }

  void arm_deadline() {
    deadline_.expires_after(request_.timeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->on_deadline();
    });
  }

  void on_deadline() {
    if (finished_)
      return;
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(request_.timeout);
    fail(probe_failure::timeout, "no response within " +
                                     std::to_string(ms.count()) + " ms (" +
                                     stage_name() + ")");
  }

  const char* stage_name() const {
    switch (stage_) {
    case stage::resolving:
      return "resolving the host";
    case stage::connecting:
      return "connecting";
    case stage::handshaking:
      return "in the TLS handshake";
    case stage::sending:
      return "sending the request";
    default:
      return "waiting for the response";
    }
  }

  // IP literals skip the host cache (and its threads). The deadline runs
  // while the lookup does; a lookup that ends later finds this attempt
  // finished or gone (the waiter holds it weakly).
  void connect() {
    error_code not_literal;
    auto address = asio::ip::make_address(target().host, not_literal);
    if (!not_literal)
      return connect_to({{address, target().port}});
    if (!engine_.options.resolve_hook &&
        !loopback_guard::allows_lookup(target().host))
      return refuse("looking up " + target().host);
    stage_ = stage::resolving;
    engine_.hosts.resolve(
        target().host, [weak = weak_from_this()](const lookup_result& found) {
          if (auto self = weak.lock())
            self->on_resolved(found);
        });
  }

  void on_resolved(const lookup_result& found) {
    if (finished_)
      return;
    if (found.local)
      return fail(probe_failure::local, found.error);
    if (found.addresses.empty())
      return fail(probe_failure::resolve,
                  "cannot resolve " + target().host + ": " + found.error);
    std::vector<tcp::endpoint> endpoints;
    for (auto& address : found.addresses)
      endpoints.emplace_back(address, target().port);
    connect_to(std::move(endpoints));
  }

  void connect_to(std::vector<tcp::endpoint> endpoints) {
    for (auto& endpoint : endpoints)
      if (!loopback_guard::allows_address(endpoint.address().to_string()))
        return refuse("connecting to " + endpoint.address().to_string() +
                      " for " + target().host);
    stage_ = stage::connecting;
    endpoints_ = std::move(endpoints);
    auto& io = engine_.io;
    conn_ = target().tls ? std::make_shared<connection>(io, engine_.tls_context,
                                                        engine_.open_count)
                         : std::make_shared<connection>(io, engine_.open_count);
    connect_next(0);
  }

  // Tries the addresses in order, as asio::async_connect does, but opens
  // each socket here: Asio's range connect reports a socket that cannot be
  // opened (out of descriptors) as "Operation canceled".
  void connect_next(size_t index) {
    auto& socket = conn_->socket();
    const auto& endpoint = endpoints_[index];
    error_code ec;
    socket.close(ec);
    socket.open(endpoint.protocol(), ec);
    if (ec)
      return fail(classify_connect_error(ec));
    // Each request is one send (Asio writes Beast's buffers as one TLS
    // record), so Nagle could hold back only a request sent right behind
    // the client's TLS Finished, until the server acknowledges that. No
    // write here gains from Nagle; if this fails, nothing else does.
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.async_connect(endpoint,
                         [self = shared_from_this(), index](error_code ec) {
                           self->on_connected(ec, index);
                         });
  }

  void on_connected(error_code ec, size_t index) {
    if (finished_)
      return;
    bool more = index + 1 < endpoints_.size();
    if (ec && more && !local_cause(ec))
      return connect_next(index + 1);
    if (ec)
      return fail(classify_connect_error(ec));
    if (conn_->tls())
      handshake();
    else
      send_request();
  }

  void handshake() {
    stage_ = stage::handshaking;
    auto& tls = *conn_->tls();
    const auto& host = target().host;
    // SNI carries host names only (RFC 6066), never IP literals.
    if (!is_ip_literal(host) &&
        SSL_set_tlsext_host_name(tls.native_handle(), host.c_str()) != 1)
      return fail(probe_failure::tls, "cannot set the TLS server name");
    error_code ec;
    if (engine_.options.tls_verify) {
      tls.set_verify_mode(ssl::verify_peer, ec);
      if (!ec)
        tls.set_verify_callback(ssl::host_name_verification(host), ec);
    } else {
      tls.set_verify_mode(ssl::verify_none, ec);
    }
    if (ec)
      return fail(probe_failure::tls, "TLS setup failed: " + ec.message());
    tls.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    if (finished_)
      return;
    if (ec)
      return fail(probe_failure::tls, "TLS handshake failed: " + ec.message());
    send_request();
  }

  void send_request() {
    stage_ = stage::sending;
    conn_->with_stream([this](auto& stream) {
      asio::async_write(stream, asio::buffer(request_bytes_),
                        [self = shared_from_this()](error_code ec, size_t) {
                          self->on_sent(ec);
                        });
    });
  }

  void on_sent(error_code ec) {
    if (finished_)
      return;
    if (ec && closed_by_peer(ec) && retry_on_fresh_connection())
      return;
    if (ec)
      return fail(socket_cause(ec, "cannot send the request: "));
    receive_response();
  }

  void receive_response() {
    stage_ = stage::receiving;
    buffer_.clear();
    reader_.restart();
    read_response();
  }

  // Keeps buffer_: after an interim response it may hold the next one.
  void read_response() {
    auto& parser = reader_.next();
    conn_->with_stream([this, &parser](auto& stream) {
      http::async_read(stream, buffer_, parser,
                       [self = shared_from_this()](error_code ec, size_t) {
                         self->on_received(ec);
                       });
    });
  }

  void on_received(error_code ec) {
    if (finished_)
      return;
    switch (reader_.on_read(ec, buffer_.size())) {
    case probe_response_reader::step::read_again:
      return read_response();
    case probe_response_reader::step::complete:
      if (stale_answer() && retry_on_fresh_connection())
        return;
      return finish(reader_.result(), reader_.reusable());
    case probe_response_reader::step::failed:
      break;
    }
    if (stale_failure(ec) && retry_on_fresh_connection())
      return;
    if (auto local = local_cause(ec))
      return fail(*local);
    finish(reader_.result(), false);
  }

  // On a reused connection, an answer may have been sent before our
  // request arrived: servers close idle connections with a 408 Request
  // Timeout, and proxies with a 4xx/5xx and "Connection: close". The pool's
  // liveness sweep runs once per period, not per reuse, so such a farewell
  // can be read as the answer; it earns one fresh connection. A real
  // failing answer comes again on the fresh one and counts.
  bool stale_answer() const {
    auto status = reader_.result().status;
    return reused_ && (status == request_timeout_status ||
                       (status >= 400 && !reader_.reusable()));
  }

  // On a reused connection: closed before any byte of an answer (the server
  // dropped it while idle), or bytes that are no HTTP answer (sent while
  // idle, nobody asked for them).
  bool stale_failure(const error_code& ec) const {
    if (!reused_)
      return false;
    if (reader_.nothing_received() && closed_by_peer(ec))
      return true;
    return reader_.result().failure == probe_failure::protocol_error;
  }

  // A pooled connection may have been closed by the server while idle,
  // just before we used it: that is not the endpoint's fault, so it gets
  // one fresh connection within the same deadline. Fresh ones never retry.
  bool retry_on_fresh_connection() {
    if (!reused_)
      return false;
    reused_ = false;
    conn_->close();
    conn_.reset();
    connect();
    return true;
  }

  void fail(probe_failure failure, std::string detail) {
    attempt_result result;
    result.failure = failure;
    result.detail = std::move(detail);
    finish(std::move(result), false);
  }

  // The test network guard (backends/loopback_guard.hpp) refused.
  void refuse(const std::string& what) {
    loopback_guard::refuse(what);
    fail(probe_failure::local,
         std::string{loopback_guard::refusal_marker} + ": " + what);
  }

  void fail(failure_cause cause) {
    fail(cause.failure, std::move(cause.detail));
  }

  void finish(attempt_result result, bool keep_connection) {
    finished_ = true;
    deadline_.cancel();
    if (conn_ && keep_connection)
      engine_.pool.put(pool_key(), std::move(conn_));
    else if (conn_)
      conn_->close();
    conn_.reset();
    --engine_.in_flight_count;
    result.attempt_id = request_.attempt_id;
    result.latency =
        std::chrono::duration_cast<caf::timespan>(steady::now() - submitted_);
    auto done = std::move(done_);
    if (done)
      done(std::move(result));
  }

  engine& engine_;
  attempt_request request_;
  http_prober::completion done_;
  steady::time_point submitted_; // latency is measured from here
  asio::steady_timer deadline_;  // the one deadline of the whole attempt
  std::vector<tcp::endpoint> endpoints_; // the host's, tried in order
  connection_ptr conn_;                  // null until connected or taken
  std::string request_bytes_;            // the whole request, as sent
  probe_response_reader reader_{engine_.options.body_limit,
                                engine_.options.keep_alive};
  boost::beast::flat_buffer buffer_{probe_read_buffer_limit};
  stage stage_ = stage::connecting; // for the timeout's detail
  bool reused_ = false;             // conn_ came from the idle pool
  bool finished_ = false;
};

void engine::start_scheduled_attempt(attempt_request request) {
  auto submitted = steady::now();
  std::make_shared<attempt>(
      *this, std::move(request),
      [this](attempt_result result) {
        scheduler.on_attempt_result(std::move(result), steady::now());
      },
      submitted)
      ->start();
}

} // namespace

struct http_prober::impl : engine {
  using engine::engine;
  std::atomic<uint64_t> last_handle{0};
};

http_prober::http_prober(http_prober_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  // The engine thread runs from here on.
}

http_prober::~http_prober() = default;

void http_prober::submit(attempt_request request, completion done) {
  auto submitted = steady::now();
  engine* eng = impl_.get();
  asio::post(eng->io, [eng, request = std::move(request),
                       done = std::move(done), submitted]() mutable {
    std::make_shared<attempt>(*eng, std::move(request), std::move(done),
                              submitted)
        ->start();
  });
}

void http_prober::shutdown() {
  impl_->shutdown();
}

uint64_t http_prober::add_schedule(check_spec spec) {
  auto handle = ++impl_->last_handle;
  engine* eng = impl_.get();
  asio::post(eng->io, [eng, handle, spec = std::move(spec)]() mutable {
    eng->scheduler.add(handle, std::move(spec), steady::now());
    eng->schedule_count = eng->scheduler.schedules();
  });
  return handle;
}

void http_prober::set_fast(uint64_t handle, bool fast) {
  engine* eng = impl_.get();
  asio::post(eng->io, [eng, handle, fast] {
    eng->scheduler.set_fast(handle, fast, steady::now());
  });
}

void http_prober::remove_schedule(uint64_t handle) {
  engine* eng = impl_.get();
  asio::post(eng->io, [eng, handle] {
    eng->scheduler.remove(handle);
    eng->schedule_count = eng->scheduler.schedules();
  });
}

size_t http_prober::open_connections() const {
  return impl_->open_count.load();
}

size_t http_prober::in_flight() const {
  return impl_->in_flight_count.load();
}

size_t http_prober::dns_lookups() const {
  return impl_->hosts.lookups();
}

size_t http_prober::idle_cap_closures() const {
  return impl_->pool.cap_closures();
}

size_t http_prober::schedules() const {
  return impl_->schedule_count.load();
}

} // namespace orasi
