// Everything below runs on the loop thread except the public calls, which
// only post (stop() posts and joins); so no loop state needs a lock.
#include "net/control_client.hpp"

#include "net/exchange.hpp"
#include "net/host_pool.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace orasi::net {

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using host_key = std::tuple<bool, std::string, uint16_t>;

/// One request from submission to completion: it may wait for a
/// connection, and take a second attempt (exchange.hpp says when).
struct pending {
  explicit pending(asio::io_context& io) : deadline(io) {}

  request_id id = 0;
  http_request request;
  response_handler on_complete;            // buffered requests
  std::optional<stream_handlers> handlers; // streams
  stream_sink sink;                        // streams: to `handlers`
  asio::steady_timer deadline;
  std::shared_ptr<exchange> attempt; // null while waiting for a connection
  bool retried = false;              // a second attempt goes on a fresh one
  bool head_seen = false;            // a stream's head went to on_head
};

using pending_ptr = std::shared_ptr<pending>;

http_response failed(request_failure failure, std::string detail) {
  http_response response;
  response.failure = failure;
  response.detail = std::move(detail);
  return response;
}

void deliver(pending& p, http_response response) {
  if (p.handlers && p.handlers->on_end)
    p.handlers->on_end(std::move(response));
  else if (!p.handlers && p.on_complete)
    p.on_complete(std::move(response));
}

std::string where(const http_request& request) {
  return request.host + ":" + std::to_string(request.port);
}

} // namespace

struct control_client::impl {
  explicit impl(control_client_options opts) : options(opts) {
    thread = std::thread([this] { io.run(); });
  }

  ~impl() {
    stop();
    // Sockets and timers go before the io_context they belong to.
    active.clear();
    pools.clear();
  }

  pending_ptr make_pending(http_request request) {
    auto p = std::make_shared<pending>(io);
    p->id = next_id++;
    p->request = std::move(request);
    return p;
  }

  request_id submit(pending_ptr p) {
    auto id = p->id;
    {
      std::lock_guard<std::mutex> guard{lifecycle};
      if (!closed) {
        asio::post(io, [this, p] { start(p); });
        return id;
      }
    }
    deliver(*p, failed(request_failure::cancelled, "client stopped"));
    return id;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{lifecycle};
      if (!closed) {
        closed = true;
        asio::post(io, [this] { shut_down(); });
      }
    }
    if (thread.joinable())
      thread.join();
  }

  // --- on the loop ---------------------------------------------------

  void start(const pending_ptr& p) {
    if (stopping)
      return deliver(*p, failed(request_failure::cancelled, "client stopped"));
    if (auto why = invalid_reason(p->request); !why.empty())
      return deliver(*p, failed(request_failure::invalid_request, why));
    if (p->handlers)
      connect_sink(*p);
    active.emplace(p->id, p);
    arm_deadline(*p);
    auto& pool = pool_for(p->request);
    pool.waiting.push_back(p->id);
    dispatch(pool);
  }

  // A stream's deadline ends with its head: the body may never end.
  void connect_sink(pending& p) {
    p.sink.on_head = [&p](const http_response& head) {
      // cancel() cannot recall a deadline that fired in this same turn of
      // the loop: on_deadline() checks head_seen too.
      p.head_seen = true;
      p.deadline.cancel();
      if (p.handlers->on_head)
        p.handlers->on_head(head);
    };
    p.sink.on_data = [&p](std::string_view piece) {
      if (p.handlers->on_data)
        p.handlers->on_data(piece);
    };
  }

  void arm_deadline(pending& p) {
    p.deadline.expires_after(p.request.timeout);
    p.deadline.async_wait([this, id = p.id](error_code ec) {
      if (!ec)
        on_deadline(id);
    });
  }

  void on_deadline(request_id id) {
    auto found = active.find(id);
    if (found == active.end())
      return;
    auto& p = *found->second;
    if (p.head_seen)
      return; // the deadline covers a stream until its head only
    auto detail = "no response from " + where(p.request) + " within " +
                  std::to_string(p.request.timeout.count()) + " ms";
    if (!p.attempt)
      detail += " (still waiting for a connection)";
    fail(id, request_failure::timeout, std::move(detail));
  }

  host_pool& pool_for(const http_request& request) {
    auto& pool = pools[host_key{request.tls, request.host, request.port}];
    if (!pool)
      pool = std::make_unique<host_pool>(options.max_connections_per_host);
    return *pool;
  }

  /// Starts waiting requests, first come first, while a connection is
  /// idle or the bound allows a new one.
  void dispatch(host_pool& pool) {
    while (!stopping && !pool.waiting.empty()) {
      auto found = active.find(pool.waiting.front());
      if (found == active.end()) { // ended while waiting
        pool.waiting.pop_front();
        continue;
      }
      auto p = found->second;
      auto conn = p->retried ? nullptr : pool.take_idle();
      bool reused = conn != nullptr;
      // A retry trades an idle connection for the fresh one it needs.
      if (!conn && !pool.may_open())
        if (auto spare = pool.take_idle())
          spare->close();
      if (!conn && !pool.may_open())
        return;
      if (conn)
        unwatch(*conn);
      else
        conn = open_connection(pool);
      pool.waiting.pop_front();
      begin_attempt(p, std::move(conn), reused);
    }
  }

  connection_ptr open_connection(host_pool& pool) {
    ++opened;
    return std::make_shared<connection>(io, pool.open_counter(), open_now);
  }

  void begin_attempt(const pending_ptr& p, connection_ptr conn, bool reused) {
    // Held here too: run() may report, and so end the request, at once.
    auto attempt = std::make_shared<exchange>(
        std::move(conn), reused, p->request, p->handlers ? &p->sink : nullptr,
        [this, id = p->id](attempt_outcome outcome) {
          on_attempt(id, std::move(outcome));
        });
    p->attempt = attempt;
    attempt->run();
  }

  void on_attempt(request_id id, attempt_outcome outcome) {
    auto found = active.find(id);
    if (found == active.end())
      return;
    auto p = found->second;
    if (outcome.retriable && !p->retried && may_replay(p->request)) {
      p->retried = true;
      p->attempt.reset();
      auto& pool = pool_for(p->request);
      pool.waiting.push_front(id);
      return dispatch(pool);
    }
    auto conn = outcome.reusable ? p->attempt->conn() : nullptr;
    end(id, std::move(outcome.response), std::move(conn));
  }

  void fail(request_id id, request_failure failure, std::string detail) {
    end(id, failed(failure, std::move(detail)), nullptr);
  }

  /// Completes request `id` once; `reusable`, if not null, is its
  /// connection, free for the next request.
  void end(request_id id, http_response response, connection_ptr reusable) {
    auto found = active.find(id);
    if (found == active.end())
      return;
    auto p = found->second;
    active.erase(found);
    p->deadline.cancel();
    auto& pool = pool_for(p->request);
    if (reusable && !stopping)
      park(pool, std::move(reusable));
    else if (p->attempt)
      p->attempt->abort();
    deliver(*p, std::move(response));
    dispatch(pool);
  }

  // An idle connection is watched: readable means the server closed it
  // (or sent what nobody asked for), so it goes at once rather than
  // failing the next request.
  void park(host_pool& pool, connection_ptr conn) {
    pool.park(conn);
    conn->socket().async_wait(asio::ip::tcp::socket::wait_read,
                              [this, &pool, conn](error_code ec) {
                                if (ec || !pool.forget_idle(conn))
                                  return;
                                conn->close();
                                dispatch(pool);
                              });
  }

  void unwatch(connection& conn) {
    error_code ignored;
    conn.socket().cancel(ignored);
  }

  void shut_down() {
    stopping = true;
    std::vector<request_id> ids;
    for (const auto& entry : active)
      ids.push_back(entry.first);
    for (auto id : ids)
      fail(id, request_failure::cancelled, "client stopped");
    for (auto& entry : pools)
      entry.second->close_idle();
    // The loop ends once the aborted operations have run.
    work.reset();
  }

  control_client_options options;
  std::atomic<size_t> opened{0};   // connections opened so far
  std::atomic<size_t> open_now{0}; // connections open right now
  std::atomic<request_id> next_id{1};
  std::mutex lifecycle;
  bool closed = false; // guarded by lifecycle: stop() was called
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  // Loop thread only from here on.
  bool stopping = false;
  std::map<host_key, std::unique_ptr<host_pool>> pools;
  std::unordered_map<request_id, pending_ptr> active;
  std::thread thread;
};

control_client::control_client(control_client_options options)
    : impl_(std::make_unique<impl>(options)) {}

control_client::~control_client() = default;

request_id control_client::request(http_request request,
                                   response_handler done) {
  auto p = impl_->make_pending(std::move(request));
  p->on_complete = std::move(done);
  return impl_->submit(std::move(p));
}

request_id control_client::stream(http_request request,
                                  stream_handlers handlers) {
  auto p = impl_->make_pending(std::move(request));
  p->handlers = std::move(handlers);
  return impl_->submit(std::move(p));
}

void control_client::cancel(request_id id) {
  asio::post(impl_->io, [impl = impl_.get(), id] {
    impl->fail(id, request_failure::cancelled, "cancelled");
  });
}

void control_client::stop() {
  impl_->stop();
}

size_t control_client::connections_opened() const {
  return impl_->opened.load();
}

size_t control_client::open_connections() const {
  return impl_->open_now.load();
}

} // namespace orasi::net
