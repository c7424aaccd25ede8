#include "backends/consul_source.hpp"

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "backends/reconnect_backoff.hpp"
#include "messages/errors.hpp"
#include "messages/json_codec.hpp"

namespace orasi::backends {

namespace {

constexpr auto done_polling = std::chrono::milliseconds(10);

/// A 403 means the token is missing or lacks rights; say so without the
/// token.
caf::error refusal(const consul_reply& reply, const std::string& what) {
  if (reply.status == 403)
    return make_error(errc::backend_rejected,
                      "consul " + what +
                          ": permission denied (check consul.token): " +
                          reply.body.substr(0, 200));
  return make_error(errc::backend_rejected, "consul " + what + ": HTTP " +
                                                std::to_string(reply.status) +
                                                " " +
                                                reply.body.substr(0, 200));
}

} // namespace

bool consul_source::blocking_index::advance(uint64_t returned,
                                            bool& went_back) {
  // Never block on an index below 1 (0 would mean "answer at once" forever).
  returned = std::max<uint64_t>(returned, 1);
  went_back = returned < last_seen;
  bool changed = went_back || value == 0 || returned != last_seen;
  last_seen = returned;
  // Gone backwards (e.g. the agent restarted with a fresh state): the answer
  // is current data; start over from 0 so the next query does not block on
  // a number the agent may never reach again.
  value = went_back ? 0 : returned;
  return changed;
}

consul_source::consul_source(consul_source_options options)
    : options_(std::move(options)),
      agents_(std::make_shared<consul_agents>(options_.client)),
      api_conn_(agents_),
      catalog_conn_(agents_) {}

consul_source::~consul_source() {
  suspend();
}

source_counters consul_source::counters() const {
  source_counters out;
  out.unreadable_values = unreadable_values_.load();
  out.reconnects = reconnects_.load();
  out.relists = relists_.load();
  return out;
}

void consul_source::set_change_listener(std::function<void()> notify) {
  std::lock_guard<std::mutex> guard{mutex_};
  notify_ = std::move(notify);
}

// -- reads --------------------------------------------------------------------

std::string consul_source::blocking_query(uint64_t index) {
  if (index == 0)
    return {};
  // Jitter: many clients started together must not wake together.
  thread_local std::minstd_rand rng{std::random_device{}()};
  auto wait = options_.wait.count();
  std::uniform_int_distribution<long long> pick{wait - wait / 16, wait};
  return "index=" + std::to_string(index) +
         "&wait=" + std::to_string(pick(rng)) + "ms";
}

std::chrono::milliseconds consul_source::blocking_timeout() const {
  // Consul may hold a query up to wait + wait/16.
  return options_.wait + options_.wait / 16 + options_.client.request_timeout;
}

// A GET fails with backend_rejected only for an answer over
// max_response_bytes: data that cannot be read, not an agent that is down.
void consul_source::count_if_unreadable(const caf::error& err) {
  if (is_orasi_error(err) &&
      static_cast<errc>(err.code()) == errc::backend_rejected)
    ++unreadable_values_;
}

caf::expected<std::pair<consul::catalog, uint64_t>>
consul_source::read_catalog(consul_connection& conn, const std::string& query,
                            std::chrono::milliseconds timeout) {
  auto reply = conn.get("/v1/catalog/services", query, timeout);
  if (!reply) {
    count_if_unreadable(reply.error());
    return std::move(reply.error());
  }
  if (reply->status != 200)
    return refusal(*reply, "/v1/catalog/services");
  auto catalog = consul::decode_catalog(reply->body);
  if (!catalog) {
    ++unreadable_values_;
    return std::move(catalog.error());
  }
  return std::make_pair(std::move(*catalog), reply->index);
}

caf::expected<consul_source::mirrored>
consul_source::read_health(consul_connection& conn, const std::string& name,
                           const std::string& query,
                           std::chrono::milliseconds timeout) {
  auto path = "/v1/health/service/" + encode_path_segment(name);
  auto reply = conn.get(path, query, timeout);
  if (!reply) {
    count_if_unreadable(reply.error());
    return std::move(reply.error());
  }
  if (reply->status != 200)
    return refusal(*reply, path);
  size_t skipped = 0;
  auto instances = consul::decode_health(reply->body, skipped);
  if (skipped > 0) {
    unreadable_values_ += skipped;
    spdlog::warn("consul backend: {} skipped {} instance(s) that do not "
                 "decode",
                 path, skipped);
  }
  if (!instances) {
    ++unreadable_values_;
    return std::move(instances.error());
  }
  mirrored out;
  out.index = reply->index;
  for (const auto& in : *instances)
    out.instance_ids.push_back(in.id);
  std::sort(out.instance_ids.begin(), out.instance_ids.end());
  if (!instances->empty())
    out.info = consul::to_service_info(name, std::move(*instances));
  return out;
}

std::set<std::string>
consul_source::selected_names(const consul::catalog& catalog) const {
  std::set<std::string> names;
  for (const auto& [name, tags] : catalog)
    if (consul::selected(name, tags, options_.service_prefix) &&
        is_valid_service_id(name))
      names.insert(name);
  return names;
}

caf::expected<source_listing> consul_source::list() {
  auto catalog = read_catalog(api_conn_, {}, options_.client.request_timeout);
  if (!catalog)
    return std::move(catalog.error());
  auto names = selected_names(catalog->first);
  std::map<std::string, mirrored> fresh;
  std::vector<std::string> unreadable;
  for (const auto& name : names) {
    auto health =
        read_health(api_conn_, name, {}, options_.client.request_timeout);
    if (health) {
      fresh.emplace(name, std::move(*health));
      continue;
    }
    // One service that cannot be read does not fail the others: it keeps
    // what the registry last knew.
    spdlog::warn("consul backend: listing {}: {}", name,
                 error_message(health.error()));
    unreadable.push_back(name);
  }
  source_listing listing;
  listing.revision = catalog->second;
  listing.unreadable = unreadable;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    // Membership comes from whichever catalog is newer: the loop may have
    // applied a later one while this listing was read.
    if (catalog->second >= loop_catalog_index_) {
      for (auto& [name, entry] : mirror_)
        if (names.count(name) == 0 && !entry.removed) {
          entry.removed = true;
          entry.index = std::max(entry.index, catalog->second);
        }
    }
    for (auto& [name, entry] : fresh) {
      auto slot = mirror_.find(name);
      if (slot == mirror_.end() || entry.index >= slot->second.index)
        mirror_[name] = std::move(entry);
    }
    for (const auto& [name, entry] : mirror_)
      if (!entry.removed && !entry.instance_ids.empty())
        listing.services.emplace(name, entry.info);
    dirty_.clear();
    connected_ = true;
  }
  if (options_.watch && catalog_done_.load()) {
    if (catalog_thread_.joinable())
      catalog_thread_.join(); // a loop that ended (failed): start it again
    start_catalog_loop(catalog->second);
  }
  return listing;
}

caf::expected<std::optional<source_update>> consul_source::poll() {
  std::lock_guard<std::mutex> guard{mutex_};
  if (dirty_.empty()) {
    if (!connected_)
      return make_error(errc::backend_unavailable, disconnect_reason_);
    return std::optional<source_update>{};
  }
  source_update update;
  update.full = false;
  for (const auto& name : dirty_) {
    auto it = mirror_.find(name);
    if (it != mirror_.end() && !it->second.removed &&
        !it->second.instance_ids.empty())
      update.listing.services.emplace(name, it->second.info);
    else
      update.removals.push_back(name);
  }
  dirty_.clear();
  return std::optional<source_update>{std::move(update)};
}

void consul_source::mark_dirty(const std::string& name) {
  dirty_.insert(name);
}

void consul_source::wake() {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    notify = notify_;
  }
  if (notify)
    notify();
}

void consul_source::offer(const std::string& name, mirrored fresh, bool force) {
  if (fresh.instance_ids.empty())
    fresh.removed = true;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto it = mirror_.find(name);
    if (it != mirror_.end()) {
      auto& known = it->second;
      if (!force && fresh.index < known.index)
        return; // older than what we have (or than its removal)
      bool same = known.removed == fresh.removed &&
                  (fresh.removed || (known.instance_ids == fresh.instance_ids &&
                                     known.info == fresh.info));
      known.index = std::max(force ? fresh.index : known.index, fresh.index);
      if (same)
        return; // nothing visible changed
      auto index = known.index;
      known = std::move(fresh);
      known.index = index;
    } else if (fresh.removed) {
      return; // never seen: nothing to remove
    } else {
      mirror_.emplace(name, std::move(fresh));
    }
    mark_dirty(name);
  }
  wake();
}

void consul_source::set_connected(bool connected, const std::string& reason) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (connected_ == connected)
      return;
    connected_ = connected;
    disconnect_reason_ = reason;
  }
  if (connected) {
    ++reconnects_;
    spdlog::info("consul backend: agent reachable again");
  } else {
    spdlog::warn("consul backend: unreachable, serving the last known "
                 "services: {}",
                 reason);
  }
  wake();
}

// -- loops --------------------------------------------------------------------

bool consul_source::pause(std::chrono::milliseconds delay,
                          const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock{wait_mutex_};
  return !wait_cv_.wait_for(lock, delay,
                            [&] { return stopping_.load() || stop.load(); });
}

void consul_source::rate_limit(std::chrono::steady_clock::time_point started,
                               const std::atomic<bool>& stop) {
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (elapsed < options_.min_query_gap)
    pause(options_.min_query_gap - elapsed, stop);
}

void consul_source::start_catalog_loop(uint64_t index) {
  stopping_ = false;
  catalog_done_ = false;
  catalog_thread_ = std::thread{[this, index] {
    try {
      catalog_loop(index);
    } catch (const std::exception& ex) {
      spdlog::error("consul backend: catalog loop failed: {}", ex.what());
      set_connected(false, std::string{"catalog loop failed: "} + ex.what());
    }
    for (auto& [name, w] : watchers_)
      w->stop = true;
    wait_cv_.notify_all();
    for (auto& [name, w] : watchers_)
      stop_watcher(*w);
    watchers_.clear();
    catalog_done_ = true;
  }};
}

void consul_source::catalog_loop(uint64_t start_index) {
  blocking_index index{start_index, start_index};
  {
    std::map<std::string, uint64_t> indexes;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      for (const auto& [name, entry] : mirror_)
        if (!entry.removed)
          indexes.emplace(name, entry.index);
    }
    for (const auto& [name, health_index] : indexes)
      start_watcher(name, health_index);
  }
  const std::atomic<bool> never{false};
  reconnect_backoff backoff{options_.reconnect_min, options_.reconnect_max};
  while (!stopping_) {
    auto started = std::chrono::steady_clock::now();
    auto catalog = read_catalog(catalog_conn_, blocking_query(index.value),
                                blocking_timeout());
    if (stopping_)
      return;
    if (!catalog) {
      set_connected(false, error_message(catalog.error()));
      index.value = 0; // re-read at once when back (last_seen stays)
      if (!pause(backoff.next(), never))
        return;
      continue;
    }
    backoff.reset();
    set_connected(true, "");
    bool went_back = false;
    if (index.advance(catalog->second, went_back)) {
      if (went_back) {
        ++relists_;
        spdlog::warn("consul backend: catalog index went backwards, "
                     "reading it again");
      }
      apply_catalog(selected_names(catalog->first), index.last_seen);
    }
    rate_limit(started, never);
  }
}

void consul_source::apply_catalog(const std::set<std::string>& names,
                                  uint64_t index) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    loop_catalog_index_ = index;
  }
  std::vector<std::string> gone;
  for (const auto& [name, w] : watchers_)
    if (names.count(name) == 0) {
      w->stop = true; // all at once, then wait for them together
      gone.push_back(name);
    }
  wait_cv_.notify_all();
  for (const auto& name : gone) {
    stop_watcher(*watchers_.at(name));
    watchers_.erase(name);
    mirrored tombstone;
    tombstone.index = index;
    offer(name, std::move(tombstone), false);
  }
  for (const auto& name : names)
    if (watchers_.count(name) == 0) {
      try {
        start_watcher(name, 0);
      } catch (const std::system_error& ex) {
        // Out of threads: this service waits for the refresh re-list.
        spdlog::error("consul backend: cannot follow {}: {}", name, ex.what());
      }
    }
}

void consul_source::start_watcher(const std::string& name, uint64_t index) {
  auto w = std::make_unique<watcher>(agents_);
  auto* raw = w.get();
  raw->thread = std::thread{[this, raw, name, index] {
    try {
      watch_service(*raw, name, index);
    } catch (const std::exception& ex) {
      spdlog::error("consul backend: health loop of {} failed: {}", name,
                    ex.what());
    }
    raw->done = true;
  }};
  watchers_[name] = std::move(w);
}

void consul_source::watch_service(watcher& w, const std::string& name,
                                  uint64_t start_index) {
  blocking_index index{start_index, start_index};
  reconnect_backoff backoff{options_.reconnect_min, options_.reconnect_max};
  while (!stopping_ && !w.stop) {
    auto started = std::chrono::steady_clock::now();
    auto health = read_health(w.conn, name, blocking_query(index.value),
                              blocking_timeout());
    if (stopping_ || w.stop)
      return;
    if (!health) {
      index.value = 0;
      if (!pause(backoff.next(), w.stop))
        return;
      continue;
    }
    backoff.reset();
    bool went_back = false;
    if (index.advance(health->index, went_back)) {
      // After an index reset the answer is current although its index is
      // lower than what the mirror holds.
      if (went_back)
        ++relists_;
      offer(name, std::move(*health), went_back);
    }
    rate_limit(started, w.stop);
  }
}

void consul_source::stop_watcher(watcher& w) {
  w.stop = true;
  wait_cv_.notify_all();
  // An interrupt that lands before the next request starts is retried.
  while (!w.done.load()) {
    w.conn.interrupt();
    std::this_thread::sleep_for(done_polling);
  }
  if (w.thread.joinable())
    w.thread.join();
}

void consul_source::stop_threads() {
  {
    std::lock_guard<std::mutex> lock{wait_mutex_};
    stopping_ = true;
  }
  wait_cv_.notify_all();
  while (!catalog_done_.load()) {
    catalog_conn_.interrupt();
    std::this_thread::sleep_for(done_polling);
  }
  if (catalog_thread_.joinable())
    catalog_thread_.join();
  catalog_conn_.resume();
}

void consul_source::suspend() {
  stop_threads();
  std::vector<owned_instance> owned;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& [id, instances] : owned_)
      owned.insert(owned.end(), instances.begin(), instances.end());
    owned_.clear();
    mirror_.clear();
    dirty_.clear();
    loop_catalog_index_ = 0;
    connected_ = true;
  }
  // Withdraw this instance's registrations, as etcd's lease revocation does.
  caf::error failure;
  auto removed = deregister(owned, failure);
  if (removed < owned.size())
    spdlog::warn("consul backend: {} of {} registrations could not be "
                 "withdrawn: {}",
                 owned.size() - removed, owned.size(), error_message(failure));
}

// -- registrations ------------------------------------------------------------

caf::error consul_source::refresh_one(const std::string& name) {
  auto health =
      read_health(api_conn_, name, {}, options_.client.request_timeout);
  if (!health)
    return std::move(health.error());
  offer(name, std::move(*health), false);
  return {};
}

size_t consul_source::deregister(const std::vector<owned_instance>& instances,
                                 caf::error& failure) {
  size_t removed = 0;
  std::set<size_t> unreachable;
  for (const auto& instance : instances) {
    if (unreachable.count(instance.agent) > 0)
      continue;
    auto done = api_conn_.put("/v1/agent/service/deregister/" +
                                  encode_path_segment(instance.id),
                              "", instance.agent);
    if (done) {
      ++removed;
      continue;
    }
    if (static_cast<errc>(done.error().code()) == errc::backend_unavailable)
      unreachable.insert(instance.agent);
    failure = std::move(done.error());
  }
  return removed;
}

caf::error consul_source::put(const std::string& id, const ServiceInfo& info) {
  if (!is_valid_service_id(id))
    return make_error(errc::serialization,
                      "service id \"" + id + "\" is not valid");
  if (info.endpoints.empty())
    return make_error(errc::serialization,
                      "service " + id +
                          ": a Consul service needs at least one endpoint");
  auto registrations = consul::registrations_for(id, info, options_.check);
  if (!registrations)
    return std::move(registrations.error());
  {
    // Instance IDs are "<id>" or "<id>-<k>": refuse one that belongs to
    // another service rather than take it over.
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& reg : *registrations)
      for (const auto& [name, entry] : mirror_)
        if (name != id && !entry.removed &&
            std::find(entry.instance_ids.begin(), entry.instance_ids.end(),
                      reg.id) != entry.instance_ids.end())
          return make_error(errc::backend_rejected,
                            "consul instance ID \"" + reg.id +
                                "\" belongs to service \"" + name + "\"");
  }
  std::vector<owned_instance> mine;
  for (const auto& reg : *registrations) {
    if (auto done = api_conn_.put("/v1/agent/service/register", reg.body);
        !done)
      return std::move(done.error());
    mine.push_back({reg.id, api_conn_.last_agent()});
  }
  std::vector<owned_instance> previous;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    previous = std::exchange(owned_[id], mine);
  }
  // Endpoints this service no longer has (or that moved to another agent).
  std::vector<owned_instance> stale;
  for (const auto& old : previous)
    if (std::none_of(mine.begin(), mine.end(), [&](const auto& now) {
          return now.id == old.id && now.agent == old.agent;
        }))
      stale.push_back(old);
  caf::error ignored;
  deregister(stale, ignored);
  // The catalog's view of it now, at its index: older answers from the
  // health loop cannot undo the write.
  if (auto err = refresh_one(id))
    spdlog::debug("consul backend: reading back {}: {}", id,
                  error_message(err));
  return {};
}

caf::error consul_source::remove(const std::string& id) {
  std::vector<owned_instance> instances;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (auto owned = owned_.find(id); owned != owned_.end())
      instances = owned->second;
    else if (auto known = mirror_.find(id);
             known != mirror_.end() && !known->second.removed)
      for (const auto& instance : known->second.instance_ids)
        instances.push_back({instance, agents_->current()});
  }
  if (instances.empty())
    return make_error(errc::not_found,
                      "service \"" + id + "\" not found in consul");
  caf::error failure;
  auto removed = deregister(instances, failure);
  if (failure && static_cast<errc>(failure.code()) == errc::backend_unavailable)
    return failure; // still ours: a later deregister can finish the job
  {
    std::lock_guard<std::mutex> guard{mutex_};
    owned_.erase(id);
  }
  if (removed == 0)
    return make_error(errc::not_found,
                      "service \"" + id +
                          "\" has no instance registered with this agent");
  if (auto err = refresh_one(id))
    spdlog::debug("consul backend: reading back {}: {}", id,
                  error_message(err));
  return {};
}

} // namespace orasi::backends
