// The prober engine's host-name cache: found addresses are reused for a
// while, concurrent attempts for one name share one lookup, and lookups
// block a few threads of their own rather than Asio's single resolver
// thread, so one slow name does not hold up the others. Internal to
// http_prober.cpp; used on the engine thread, except the lookups themselves.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <netdb.h>

namespace orasi::http_pool {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

/// What a shortage of the prober's own resources is called, or null when
/// `err` (an errno value) is not one. Such failures say nothing about the
/// endpoint being probed.
inline const char* local_shortage(int err) {
  switch (err) {
  case EMFILE:
  case ENFILE:
    return "out of file descriptors";
  case ENOBUFS:
  case ENOMEM:
    return "out of memory";
  case EADDRNOTAVAIL: // connect() found no free ephemeral port
    return "out of local ports";
  default:
    return nullptr;
  }
}

/// What one lookup of a host name found.
struct lookup_result {
  std::vector<asio::ip::address> addresses; // empty when it failed
  std::string error;                        // why it failed
  bool local = false; // it failed for a local shortage (local_shortage)
};

/// Looks one host name up, blocking; runs on a lookup thread.
using lookup_function = std::function<lookup_result(const std::string& host)>;

// glibc reports a lookup that could not open /etc/hosts nor a DNS socket as
// "Name or service not known", and leaves the real cause in errno.
inline lookup_result failed_lookup(int rc, int err) {
  lookup_result result;
  if (local_shortage(err)) {
    result.local = true;
    result.error = std::string(local_shortage(err)) + " (" +
                   std::system_category().message(err) + ")";
  } else if (rc == EAI_MEMORY) {
    result.local = true;
    result.error = "out of memory (" + std::string(gai_strerror(rc)) + ")";
  } else {
    result.error = rc == EAI_SYSTEM ? std::system_category().message(err)
                                    : gai_strerror(rc);
  }
  return result;
}

inline asio::ip::address to_address(const addrinfo& entry) {
  if (entry.ai_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(entry.ai_addr);
    return asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry.ai_addr);
  asio::ip::address_v6::bytes_type bytes;
  std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
  return asio::ip::address_v6(bytes, in6->sin6_scope_id);
}

/// The system's getaddrinfo, with the flags Asio's resolver uses by default
/// (no IPv6 addresses on a host without IPv6, and the other way round).
inline lookup_result system_lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  errno = 0; // see failed_lookup
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0)
    return failed_lookup(rc, errno);
  lookup_result result;
  for (auto* entry = found; entry; entry = entry->ai_next) {
    bool known = entry->ai_family == AF_INET || entry->ai_family == AF_INET6;
    auto& list = result.addresses;
    if (known &&
        std::find(list.begin(), list.end(), to_address(*entry)) == list.end())
      list.push_back(to_address(*entry));
  }
  ::freeaddrinfo(found);
  if (result.addresses.empty())
    result.error = "no IPv4 or IPv6 address";
  return result;
}

/// Up to `max_threads` threads for blocking calls, started as work arrives.
/// Destruction drops the jobs still queued and waits for the running ones
/// (a getaddrinfo blocked on a dead DNS server delays it that long).
class lookup_threads {
public:
  explicit lookup_threads(size_t max_threads)
      : max_threads_(std::max<size_t>(max_threads, 1)) {}

  ~lookup_threads() { stop(); }

  /// Drops the queued jobs and waits for the running ones; no job runs
  /// after this. Idempotent.
  void stop() {
    std::vector<std::thread> running;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stopping_ = true;
      running.swap(threads_);
    }
    wake_.notify_all();
    for (auto& each : running)
      each.join();
  }

  lookup_threads(const lookup_threads&) = delete;
  lookup_threads& operator=(const lookup_threads&) = delete;

  /// Queues `job`; false if no thread exists nor can be started to run it.
  bool run(std::function<void()> job) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopping_)
      return false;
    jobs_.push_back(std::move(job));
    if (idle_ > 0 || threads_.size() >= max_threads_) {
      wake_.notify_one();
      return true;
    }
    try {
      threads_.emplace_back([this] { work(); });
    } catch (const std::system_error&) {
      if (threads_.empty())
        jobs_.pop_back();
      return !threads_.empty(); // the running ones will get to it
    }
    return true;
  }

private:
  void work() {
    std::unique_lock<std::mutex> lock{mutex_};
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (stopping_)
        return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_; // guarded by mutex_
  std::vector<std::thread> threads_;       // guarded by mutex_
  size_t idle_ = 0;                        // threads waiting for a job
  bool stopping_ = false;
};

/// Host names' addresses, kept for a while: at 10k endpoints on host names,
/// looking each one up per attempt is 10k getaddrinfo calls a second.
/// Concurrent attempts for one name wait on one lookup, and lookups run on
/// a few threads of their own, so that one slow name holds up no other.
/// Results are posted back to `io`, the engine's loop; `io` must outlive
/// this (queued results are then destroyed with it, never run).
class host_cache {
public:
  using waiter = std::function<void(const lookup_result&)>;

  struct config {
    steady::duration ttl;         // a found address is reused this long
    steady::duration failure_ttl; // a failed lookup is remembered this long
    size_t threads;               // at most this many lookups at a time
    lookup_function lookup;       // thread-safe; system_lookup in production
  };

  host_cache(asio::io_context& io, config cfg)
      : io_(io), config_(std::move(cfg)), threads_(config_.threads) {}

  /// Calls `done` with `host`'s addresses: right away when they are cached,
  /// else once the lookup (one per name at a time) completes.
  void resolve(const std::string& host, waiter done) {
    auto& entry = entries_[host];
    if (!entry.pending && steady::now() < entry.expires)
      return done(entry.result);
    entry.waiters.push_back(std::move(done));
    if (!entry.pending)
      look_up(host, entry);
  }

  /// Waits for the lookups that are running; none starts after this.
  void stop() { threads_.stop(); }

  /// Forgets expired names, so that the cache holds only names in use.
  void sweep(steady::time_point now) {
    for (auto entry = entries_.begin(); entry != entries_.end();) {
      bool expired = !entry->second.pending && entry->second.expires <= now;
      entry = expired ? entries_.erase(entry) : std::next(entry);
    }
  }

  /// Lookups started so far.
  size_t lookups() const { return lookups_.load(); }

private:
  struct entry {
    lookup_result result;        // of the last lookup
    steady::time_point expires;  // `result` is used until then
    bool pending = false;        // a lookup runs; `waiters` wait for it
    std::vector<waiter> waiters; // attempts waiting for the lookup
  };

  void look_up(const std::string& host, entry& pending) {
    pending.pending = true;
    ++lookups_;
    bool queued = threads_.run([this, host] {
      auto result = config_.lookup(host);
      asio::post(io_, [this, host, result = std::move(result)]() mutable {
        complete(host, std::move(result));
      });
    });
    if (!queued) // not even one thread could start: a shortage of our own
      complete(host, {{}, "out of threads (cannot start a lookup)", true});
  }

  // A local shortage says nothing about the name, so it is not remembered.
  void complete(const std::string& host, lookup_result result) {
    auto& done = entries_[host];
    bool failed = result.addresses.empty();
    done.pending = false;
    done.result = std::move(result);
    done.expires = steady::now() + (done.result.local ? steady::duration{0}
                                    : failed          ? config_.failure_ttl
                                                      : config_.ttl);
    auto waiters = std::move(done.waiters);
    done.waiters.clear();
    for (auto& each : waiters)
      each(done.result);
  }

  asio::io_context& io_;
  const config config_;
  std::atomic<size_t> lookups_{0}; // read by other threads
  std::unordered_map<std::string, entry> entries_;
  lookup_threads threads_; // last: its jobs use the members above
};

} // namespace orasi::http_pool
