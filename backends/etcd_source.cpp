#include "backends/etcd_source.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "backends/etcd_wire.hpp"
#include "backends/reconnect_backoff.hpp"
#include "messages/errors.hpp"
#include "messages/json_codec.hpp"

namespace orasi::backends {

namespace {

std::string trim_trailing_slashes(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  return prefix;
}

caf::error not_found_error(const std::string& id, const std::string& key) {
  return make_error(errc::not_found,
                    "service \"" + id + "\" not found (etcd key " + key + ")");
}

} // namespace

etcd_source::etcd_source(etcd_source_options options)
    : options_(std::move(options)),
      services_prefix_(trim_trailing_slashes(options_.prefix) + "/services/"),
      members_(std::make_shared<etcd_members>(options_.client)),
      api_conn_(members_),
      watch_conn_(members_),
      lease_conn_(members_) {}

etcd_source::~etcd_source() {
  suspend();
}

std::string etcd_source::key_of(const std::string& id) const {
  return services_prefix_ + id;
}

std::string etcd_source::id_of(const std::string& key) const {
  if (key.size() <= services_prefix_.size() ||
      key.compare(0, services_prefix_.size(), services_prefix_) != 0)
    return {};
  return key.substr(services_prefix_.size());
}

std::string etcd_source::watch_member() const {
  return members_->url(watch_member_.load());
}

int64_t etcd_source::lease_id() const {
  std::lock_guard<std::mutex> guard{lease_mutex_};
  return lease_id_;
}

source_counters etcd_source::counters() const {
  return {unreadable_values_.load(), reconnects_.load(), relists_.load(),
          lease_regrants_.load()};
}

void etcd_source::set_change_listener(std::function<void()> notify) {
  std::lock_guard<std::mutex> guard{mutex_};
  notify_ = std::move(notify);
}

// -- listing ------------------------------------------------------------------

std::optional<ServiceInfo> etcd_source::decode_value(const std::string& key,
                                                     const std::string& value,
                                                     int64_t mod_revision) {
  auto id = id_of(key);
  caf::error problem;
  if (!is_valid_service_id(id)) {
    problem = make_error(errc::serialization, "not a valid service id");
  } else {
    auto info = decode_service(std::string_view{value}, "etcd key " + key);
    if (info) {
      forget_unreadable(key);
      return std::move(*info);
    }
    problem = std::move(info.error());
  }
  // Each bad value is reported and counted once, not on every re-list.
  std::lock_guard<std::mutex> guard{mutex_};
  auto& seen = reported_unreadable_[key];
  if (seen != mod_revision) {
    seen = mod_revision;
    ++unreadable_values_;
    spdlog::warn("etcd backend: skipping key {} (revision {}): {}", key,
                 mod_revision, error_message(problem));
  }
  return std::nullopt;
}

void etcd_source::forget_unreadable(const std::string& key) {
  std::lock_guard<std::mutex> guard{mutex_};
  reported_unreadable_.erase(key);
}

void etcd_source::add_to_listing(source_listing& listing,
                                 const std::string& key,
                                 const std::string& value,
                                 int64_t mod_revision) {
  if (auto info = decode_value(key, value, mod_revision))
    listing.services.emplace(id_of(key), std::move(*info));
  else if (auto id = id_of(key); is_valid_service_id(id))
    listing.unreadable.push_back(std::move(id));
}

caf::expected<source_listing> etcd_source::read_all(etcd_connection& conn) {
  source_listing listing;
  auto range_end = etcd::prefix_range_end(services_prefix_);
  std::string from = services_prefix_;
  int64_t revision = 0; // the first page fixes the revision for the rest
  for (;;) {
    auto body = conn.call(
        "/v3/kv/range",
        etcd::range_request(from, range_end, options_.page_size, revision));
    if (!body)
      return std::move(body.error());
    auto page = etcd::decode_range(*body);
    if (!page)
      return std::move(page.error());
    if (revision == 0)
      revision = page->revision;
    for (const auto& kv : page->kvs)
      add_to_listing(listing, kv.key, kv.value, kv.mod_revision);
    if (!page->more || page->kvs.empty())
      break;
    from = page->kvs.back().key + '\0';
  }
  listing.revision = static_cast<uint64_t>(revision);
  return listing;
}

caf::expected<source_listing> etcd_source::list() {
  auto listing = read_all(api_conn_);
  if (!listing)
    return listing;
  auto revision = static_cast<int64_t>(listing->revision);
  bool news = false;
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    floor_ = std::max(floor_, revision);
    forget_local_writes_up_to(floor_);
    connected_ = true;
    news = std::any_of(queue_.begin(), queue_.end(),
                       [&](const auto& c) { return c.revision > floor_; });
    notify = notify_;
  }
  if (options_.watch && !watch_thread_.joinable())
    start_watch(revision + 1);
  else if (news && notify)
    notify(); // changes newer than this listing are waiting
  return listing;
}

namespace {

void erase_id(std::vector<std::string>& ids, const std::string& id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

/// Applies one change of `id` (a value, a removal, or an unreadable value)
/// on top of `update`.
void apply(source_update& update, const std::string& id,
           std::optional<ServiceInfo> value, bool unreadable) {
  auto& services = update.listing.services;
  erase_id(update.listing.unreadable, id);
  erase_id(update.removals, id);
  if (value) {
    services[id] = std::move(*value);
  } else if (unreadable) {
    // Skipped: the registry keeps its last good value for the id.
    services.erase(id);
    if (update.full)
      update.listing.unreadable.push_back(id);
  } else {
    services.erase(id);
    if (!update.full)
      update.removals.push_back(id);
  }
}

} // namespace

void etcd_source::forget_local_writes_up_to(int64_t revision) {
  for (auto it = local_writes_.begin(); it != local_writes_.end();)
    it = it->second.revision <= revision ? local_writes_.erase(it) : ++it;
}

void etcd_source::record_local_write(const std::string& id, int64_t revision,
                                     std::optional<ServiceInfo> value) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (revision > floor_)
    local_writes_[id] = local_write{revision, std::move(value)};
}

caf::expected<std::optional<source_update>> etcd_source::poll() {
  bool overflowed = false;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    overflowed = std::exchange(overflowed_, false);
  }
  if (overflowed) {
    auto listing = list();
    if (!listing) {
      std::lock_guard<std::mutex> guard{mutex_};
      overflowed_ = true;
      return std::move(listing.error());
    }
    source_update update;
    update.listing = std::move(*listing);
    return std::optional<source_update>{std::move(update)};
  }
  std::lock_guard<std::mutex> guard{mutex_};
  // What a listing already contains goes; a full listing starts afresh.
  std::deque<queued_change> changes;
  for (auto& change : queue_) {
    if (change.revision <= floor_)
      continue;
    if (change.full)
      changes.clear();
    changes.push_back(std::move(change));
  }
  queue_.clear();
  if (changes.empty()) {
    if (!connected_)
      return make_error(errc::backend_unavailable, disconnect_reason_);
    return std::optional<source_update>{};
  }
  source_update update;
  update.full = changes.front().full;
  if (update.full) {
    auto listed_at = changes.front().revision;
    update.listing = std::move(changes.front().listing);
    changes.pop_front();
    // This instance's own writes after that listing were already applied
    // (read-your-writes): the listing must not undo them.
    forget_local_writes_up_to(listed_at);
    for (auto& [id, write] : local_writes_)
      apply(update, id, write.value, false);
  }
  for (auto& change : changes) {
    // Events up to one of our own writes are older than what the registry
    // already shows for that id; from then on the watch has caught up.
    if (auto own = local_writes_.find(change.id); own != local_writes_.end()) {
      auto older = change.revision < own->second.revision;
      auto echo = change.revision == own->second.revision;
      if (!older)
        local_writes_.erase(own); // the watch has caught up with it
      if (older || echo)
        continue;
    }
    apply(update, change.id, std::move(change.value), change.unreadable);
    update.listing.revision = static_cast<uint64_t>(change.revision);
  }
  if (!update.full && update.listing.services.empty() &&
      update.removals.empty())
    return std::optional<source_update>{};
  return std::optional<source_update>{std::move(update)};
}

// -- the watch ---------------------------------------------------------------

void etcd_source::queue(std::vector<queued_change> changes) {
  std::function<void()> notify;
  {
    // One batch under one lock: poll() never sees half a transaction.
    std::lock_guard<std::mutex> guard{mutex_};
    bool was_empty = queue_.empty() && !overflowed_;
    if (queue_.size() + changes.size() > max_queued_changes) {
      // Nobody drains the queue (no adapter polling, e.g. between a crash
      // and the restart): drop it, the next poll() lists everything.
      queue_.clear();
      overflowed_ = true;
    } else {
      for (auto& change : changes) {
        if (change.revision <= floor_)
          continue;
        if (change.full)
          queue_.clear();
        queue_.push_back(std::move(change));
      }
    }
    // One wake-up per burst: poll() drains everything queued.
    if (was_empty && (!queue_.empty() || overflowed_))
      notify = notify_;
  }
  if (notify)
    notify();
}

void etcd_source::set_connected(bool connected, const std::string& reason) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (connected_ == connected)
      return;
    connected_ = connected;
    disconnect_reason_ = reason;
    notify = notify_;
  }
  if (connected)
    spdlog::info("etcd backend: watching {} again", watch_member());
  else
    spdlog::warn("etcd backend: unreachable, serving the last known "
                 "services: {}",
                 reason);
  if (notify)
    notify();
}

bool etcd_source::pause(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock{wait_mutex_};
  return !wait_cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void etcd_source::guarded(const char* what, const std::function<void()>& body) {
  // An exception escaping a thread would terminate the host process; a
  // backend thread that dies says so and leaves the data marked stale.
  try {
    body();
  } catch (const std::exception& ex) {
    spdlog::error("etcd backend: {} thread failed: {}", what, ex.what());
    set_connected(false, std::string{what} + " thread failed: " + ex.what());
  }
}

void etcd_source::start_watch(int64_t start_revision) {
  stopping_ = false;
  ++running_threads_;
  watch_thread_ = std::thread{[this, start_revision] {
    guarded("watch", [&] { watch_loop(start_revision); });
    --running_threads_;
  }};
}

etcd_source::stream_end etcd_source::watch_once(int64_t& next_revision) {
  auto range_end = etcd::prefix_range_end(services_prefix_);
  bool compacted = false;
  auto last_line = std::chrono::steady_clock::now();
  caf::error bad_message;
  auto on_line = [&](std::string_view line) {
    last_line = std::chrono::steady_clock::now();
    auto msg = etcd::decode_watch_message(line);
    if (!msg) {
      bad_message = std::move(msg.error());
      return false;
    }
    if (msg->created) {
      watch_member_ = watch_conn_.last_member();
      set_connected(true, "");
    }
    if (msg->canceled) {
      compacted = msg->compact_revision > 0;
      if (!compacted)
        bad_message = make_error(errc::backend_unavailable,
                                 "watch canceled: " + msg->cancel_reason);
      return false;
    }
    std::vector<queued_change> batch;
    for (auto& event : msg->events) {
      queued_change change;
      change.revision = event.kv.mod_revision;
      change.id = id_of(event.kv.key);
      if (event.type == etcd::event_type::put) {
        change.value =
            decode_value(event.kv.key, event.kv.value, event.kv.mod_revision);
        change.unreadable = !change.value;
        if (!is_valid_service_id(change.id))
          continue; // not a service key: nothing to skip or remove
      } else {
        forget_unreadable(event.kv.key);
        if (!is_valid_service_id(change.id))
          continue;
      }
      next_revision = std::max(next_revision, change.revision + 1);
      batch.push_back(std::move(change));
    }
    queue(std::move(batch));
    return true;
  };
  watch_member_ = members_->current();
  auto err = watch_conn_.stream(
      "/v3/watch",
      etcd::watch_create_request(services_prefix_, range_end, next_revision),
      on_line, options_.watch_idle_timeout);
  if (stopping_)
    return stream_end::stopped;
  if (compacted)
    return stream_end::compacted;
  auto silent = std::chrono::steady_clock::now() - last_line;
  if (!bad_message && silent >= options_.watch_idle_timeout)
    return stream_end::idle;
  spdlog::warn("etcd backend: watch on {} ended: {}", watch_member(),
               error_message(bad_message ? bad_message : err));
  return stream_end::broken;
}

void etcd_source::watch_loop(int64_t start_revision) {
  auto next_revision = start_revision;
  bool relist = false;
  reconnect_backoff backoff{options_.reconnect_min, options_.reconnect_max};
  while (!stopping_) {
    if (relist) {
      auto listing = read_all(watch_conn_);
      if (!listing) {
        set_connected(false, error_message(listing.error()));
        if (!pause(backoff.next()))
          break;
        continue;
      }
      ++relists_;
      next_revision = static_cast<int64_t>(listing->revision) + 1;
      queued_change change;
      change.full = true;
      change.revision = static_cast<int64_t>(listing->revision);
      change.listing = std::move(*listing);
      std::vector<queued_change> batch;
      batch.push_back(std::move(change));
      queue(std::move(batch));
      set_connected(true, "");
      relist = false;
    }
    auto started = std::chrono::steady_clock::now();
    switch (watch_once(next_revision)) {
    case stream_end::stopped:
      return;
    case stream_end::compacted:
      spdlog::warn("etcd backend: watch start revision {} was compacted, "
                   "listing again",
                   next_revision);
      relist = true;
      break;
    case stream_end::idle:
      // Silence is fine if the cluster still answers (through any member:
      // a silent member is left for the next); then the watch resumes from
      // the same revision without a listing.
      if (!cluster_answers()) {
        members_->failed(watch_member_.load());
        relist = true;
      }
      break;
    case stream_end::broken:
      ++reconnects_;
      members_->failed(watch_member_.load());
      relist = true;
      // A stream that lived a while was fine: reconnect at once.
      if (std::chrono::steady_clock::now() - started > std::chrono::seconds(5))
        backoff.reset();
      else if (!pause(backoff.next()))
        return;
      break;
    }
  }
}

bool etcd_source::cluster_answers() {
  // A linearizable read needs a leader and a quorum behind the member.
  auto range_end = etcd::prefix_range_end(services_prefix_);
  return static_cast<bool>(watch_conn_.call(
      "/v3/kv/range", etcd::range_request(services_prefix_, range_end, 1)));
}

void etcd_source::stop_threads() {
  {
    std::lock_guard<std::mutex> lock{wait_mutex_};
    stopping_ = true;
  }
  wait_cv_.notify_all();
  // An interrupt that lands just before a thread enters its next blocking
  // call finds nothing to cut (and a watch may then block until its idle
  // timeout): interrupt again until both threads are out.
  while (running_threads_.load() > 0) {
    watch_conn_.interrupt();
    lease_conn_.interrupt();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  watch_conn_.interrupt();
  lease_conn_.interrupt();
  if (watch_thread_.joinable())
    watch_thread_.join();
  if (lease_thread_.joinable())
    lease_thread_.join();
  watch_conn_.resume();
  lease_conn_.resume();
}

void etcd_source::suspend() {
  stop_threads();
  int64_t lease = 0;
  {
    std::lock_guard<std::mutex> guard{lease_mutex_};
    lease = std::exchange(lease_id_, 0);
    owned_.clear();
    rewrite_pending_ = false;
  }
  // Revoking deletes every key attached to the lease: this instance's
  // registrations disappear at once instead of after the TTL.
  if (lease != 0) {
    auto revoked =
        api_conn_.call_once("/v3/lease/revoke", etcd::lease_id_request(lease));
    if (!revoked)
      spdlog::warn("etcd backend: could not revoke lease {} (its keys expire "
                   "after the TTL): {}",
                   lease, error_message(revoked.error()));
  }
  std::lock_guard<std::mutex> guard{mutex_};
  queue_.clear();
  floor_ = 0;
  connected_ = true;
}

// -- registrations ------------------------------------------------------------

caf::error etcd_source::ensure_lease(etcd_connection& conn) {
  if (lease_id_ != 0)
    return {};
  auto body = conn.call("/v3/lease/grant",
                        etcd::lease_grant_request(options_.lease_ttl.count()));
  if (!body)
    return std::move(body.error());
  auto grant = etcd::decode_lease_grant(*body);
  if (!grant)
    return std::move(grant.error());
  lease_id_ = grant->id;
  if (!lease_thread_.joinable()) {
    stopping_ = false;
    ++running_threads_;
    lease_thread_ = std::thread{[this] {
      guarded("lease keeper", [&] { lease_loop(); });
      --running_threads_;
    }};
  }
  return {};
}

caf::expected<int64_t> etcd_source::write_on_lease(etcd_connection& conn,
                                                   const std::string& id,
                                                   const std::string& value,
                                                   int* grpc_code) {
  auto body = conn.call(
      "/v3/kv/put", etcd::put_request(key_of(id), value, lease_id_), grpc_code);
  if (!body)
    return std::move(body.error());
  auto result = etcd::decode_write(*body);
  if (!result)
    return std::move(result.error());
  return result->revision;
}

caf::expected<int64_t> etcd_source::put_owned(etcd_connection& conn,
                                              const std::string& id,
                                              const std::string& value) {
  if (auto err = ensure_lease(conn))
    return err;
  int code = 0;
  auto written = write_on_lease(conn, id, value, &code);
  if (written || code != etcd::grpc_code::not_found)
    return written;
  // The lease expired under us, and with it every key written on it.
  spdlog::warn("etcd backend: lease {} was lost, registering {} services "
               "again",
               lease_id_, owned_.size());
  ++lease_regrants_;
  lease_id_ = 0;
  if (auto err = regrant_and_reregister(conn)) {
    rewrite_pending_ = true; // the keeper retries
    return err;
  }
  return write_on_lease(conn, id, value, nullptr);
}

caf::error etcd_source::put(const std::string& id, const ServiceInfo& info) {
  if (!is_valid_service_id(id))
    return make_error(errc::serialization,
                      "service id \"" + id + "\" is not valid");
  auto value = encode(info);
  std::lock_guard<std::mutex> guard{lease_mutex_};
  auto revision = put_owned(api_conn_, id, value);
  if (!revision)
    return std::move(revision.error());
  owned_[id] = std::move(value);
  record_local_write(id, *revision, info);
  return {};
}

caf::error etcd_source::remove(const std::string& id) {
  auto key = key_of(id);
  // Under lease_mutex_, and out of owned_ first: the keeper must not write
  // it again on a new lease while (or after) it is deleted.
  std::lock_guard<std::mutex> guard{lease_mutex_};
  auto owned = owned_.find(id);
  std::optional<std::string> was_owned;
  if (owned != owned_.end()) {
    was_owned = std::move(owned->second);
    owned_.erase(owned);
  }
  auto body = api_conn_.call("/v3/kv/deleterange", etcd::delete_request(key));
  auto result = body ? etcd::decode_write(*body)
                     : caf::expected<etcd::write_result>{body.error()};
  if (!result) {
    if (was_owned) // not deleted: still ours
      owned_[id] = std::move(*was_owned);
    return std::move(result.error());
  }
  if (result->deleted == 0)
    return not_found_error(id, key);
  record_local_write(id, result->revision, std::nullopt);
  return {};
}

caf::error etcd_source::regrant_and_reregister(etcd_connection& conn) {
  if (auto err = ensure_lease(conn))
    return err;
  for (const auto& [id, value] : owned_)
    if (auto written = write_on_lease(conn, id, value, nullptr); !written)
      return std::move(written.error());
  return {};
}

void etcd_source::lease_loop() {
  auto period = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds{100},
      std::chrono::duration_cast<std::chrono::milliseconds>(
          options_.lease_ttl) /
          3);
  bool reachable = true;
  while (pause(period)) {
    // A failed re-registration left no lease (or a partial one): retry it
    // before anything else.
    if (rewrite_pending()) {
      std::lock_guard<std::mutex> guard{lease_mutex_};
      rewrite_owned(lease_conn_);
      continue;
    }
    auto lease = this->lease_id();
    if (lease == 0)
      continue;
    auto body =
        lease_conn_.call("/v3/lease/keepalive", etcd::lease_id_request(lease));
    auto ttl = body ? etcd::decode_keepalive_ttl(*body)
                    : caf::expected<int64_t>{std::move(body.error())};
    if (!ttl) {
      if (std::exchange(reachable, false))
        spdlog::warn("etcd backend: lease {} keepalive failed: {}", lease,
                     error_message(ttl.error()));
      continue;
    }
    reachable = true;
    if (*ttl > 0)
      continue;
    std::lock_guard<std::mutex> guard{lease_mutex_};
    if (lease_id_ != lease)
      continue; // a put() already replaced it
    spdlog::warn("etcd backend: lease {} was lost, registering {} services "
                 "again",
                 lease, owned_.size());
    ++lease_regrants_;
    lease_id_ = 0;
    rewrite_owned(lease_conn_);
  }
}

bool etcd_source::rewrite_pending() const {
  std::lock_guard<std::mutex> guard{lease_mutex_};
  return rewrite_pending_;
}

void etcd_source::rewrite_owned(etcd_connection& conn) {
  auto err = regrant_and_reregister(conn);
  rewrite_pending_ = static_cast<bool>(err);
  if (err)
    spdlog::warn("etcd backend: registering again failed (retrying every "
                 "keepalive period): {}",
                 error_message(err));
}

} // namespace orasi::backends
