#include "actors/backend_adapter.hpp"

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/weak_intrusive_ptr.hpp>
#include <spdlog/spdlog.h>

#include "messages/errors.hpp"

namespace orasi {

namespace {

/// Errors that mean "cannot reach the source" (as opposed to bad content).
bool is_unreachable(const caf::error& err) {
  return is_orasi_error(err) &&
         (static_cast<errc>(err.code()) == errc::backend_unavailable ||
          static_cast<errc>(err.code()) == errc::timeout);
}

void mark_stale(backend_pointer self, bool stale, const std::string& reason) {
  auto& st = self->state;
  if (st.stale == stale) // optional == bool: false while unknown
    return;
  st.stale = stale;
  caf::anon_send(st.registry, backend_status{stale, reason});
}

void handle_poll_error(backend_pointer self, const caf::error& err) {
  auto& st = self->state;
  if (is_unreachable(err)) {
    mark_stale(self, true, error_message(err));
    return;
  }
  // Bad content: keep serving what we have and say why.
  ++st.rejected_updates;
  spdlog::error("{} backend: update rejected, keeping the previous services: "
                "{}",
                st.options.source->name(), error_message(err));
}

/// A poll, or a full listing when the refresh interval has passed.
caf::expected<std::optional<backends::source_update>>
next_update(backend_state& st, bool refresh_due) {
  if (!refresh_due)
    return st.options.source->poll();
  auto listing = st.options.source->list();
  if (!listing)
    return std::move(listing.error());
  backends::source_update update;
  update.listing = std::move(*listing);
  return std::optional<backends::source_update>{std::move(update)};
}

void count_refusals(backend_state& st, size_t refusals) {
  if (st.options.limit_refusals)
    *st.options.limit_refusals += refusals;
}

/// A full listing that crosses a limit is refused as a whole: dropping
/// arbitrary services from it would be worse than serving the last good set.
caf::error check_listing(backend_state& st,
                         const backends::source_listing& listing) {
  auto err = st.forwarded().check_listing(listing.services, listing.unreadable);
  if (err)
    count_refusals(st, 1);
  return err;
}

/// Changes that would cross a limit are dropped per service; the registry
/// keeps that service's previous value (or never gets a new one).
void drop_changes_over_limits(backend_state& st, ServiceMap& upserts,
                              const std::vector<std::string>& removals) {
  auto refused = st.forwarded().filter_delta(upserts, removals);
  if (refused.empty())
    return;
  count_refusals(st, refused.size());
  spdlog::error("{} backend: {} change(s) refused (a known service keeps its "
                "previous value, a new one is not added): {}{}",
                st.options.source->name(), refused.size(), refused.front(),
                refused.size() > 1 ? " (and more)" : "");
}

/// Sends the registry only what a full listing changes, compared here by
/// fingerprint: the registry keeps serving watch events meanwhile, and an
/// unchanged re-listing costs it nothing.
void forward_as_delta(backend_pointer self, backends::source_listing& listing) {
  auto& st = self->state;
  auto changes =
      st.forwarded().changes_to(listing.services, listing.unreadable);
  st.forwarded().accept_listing(listing.services, listing.unreadable);
  if (changes.upserted.empty() && changes.removed.empty())
    return;
  backend_delta delta;
  delta.revision = listing.revision;
  delta.removals = std::move(changes.removed);
  for (const auto& id : changes.upserted) {
    auto service = listing.services.find(id);
    delta.upserts.emplace_hint(delta.upserts.end(), id,
                               std::move(service->second));
  }
  caf::anon_send(st.registry, std::move(delta));
}

/// Sends a full listing as it is: the registry replaces what it holds.
void forward_as_snapshot(backend_pointer self,
                         backends::source_listing& listing) {
  auto& st = self->state;
  st.forwarded().accept_listing(listing.services, listing.unreadable);
  st.registry_synced = true;
  caf::anon_send(st.registry,
                 backend_snapshot{std::move(listing.services), listing.revision,
                                  std::move(listing.unreadable)});
}

void forward_update(backend_pointer self, backends::source_update update) {
  auto& st = self->state;
  auto& listing = update.listing;
  if (update.full) {
    if (auto err = check_listing(st, listing))
      return handle_poll_error(self, err);
    if (st.registry_synced)
      forward_as_delta(self, listing);
    else
      forward_as_snapshot(self, listing);
    return;
  }
  drop_changes_over_limits(st, listing.services, update.removals);
  caf::anon_send(st.registry,
                 backend_delta{std::move(listing.services),
                               std::move(update.removals), listing.revision});
}

void poll_source(backend_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto refresh_due = now - st.last_listing >= st.options.refresh_interval ||
                     !st.registry_synced;
  auto update = next_update(st, refresh_due);
  if (!update) {
    handle_poll_error(self, update.error());
    return;
  }
  if (refresh_due)
    st.last_listing = now;
  mark_stale(self, false, "");
  if (*update)
    forward_update(self, std::move(**update));
}

/// Sends a full listing to the registry; the reply carries its version.
caf::result<uint64_t>
publish_listing(backend_pointer self,
                caf::expected<backends::source_listing> listing) {
  if (!listing) {
    handle_poll_error(self, listing.error());
    return std::move(listing.error());
  }
  mark_stale(self, false, "");
  if (auto err = check_listing(self->state, *listing)) {
    handle_poll_error(self, err);
    return err;
  }
  self->state.forwarded().accept_listing(listing->services,
                                         listing->unreadable);
  self->state.last_listing = self->clock().now();
  self->state.registry_synced = true;
  return self->delegate(self->state.registry,
                        backend_snapshot{std::move(listing->services),
                                         listing->revision,
                                         std::move(listing->unreadable)});
}

/// Push sources wake the adapter from their threads. The listener holds a
/// weak handle: the source outlives adapters (it is shared across restarts)
/// and must not keep one alive.
void listen_to_source(backend_pointer self) {
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  self->state.options.source->set_change_listener([weak] {
    if (auto strong = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(strong, wake_atom::value);
  });
  // A stop suspends the source before the adapter is down, so that the
  // supervisor (and the caller of stop()) see the lease revoked.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::user_shutdown)
      self->state.options.source->suspend();
    self->quit(msg.reason);
  });
}

} // namespace

backend_actor::behavior_type backend_adapter(backend_pointer self,
                                             registry_actor registry,
                                             backend_options options) {
  self->state.registry = std::move(registry);
  self->state.options = std::move(options);
  if (!self->state.options.forwarded)
    self->state.options.forwarded =
        std::make_shared<limit_tracker>(self->state.options.limits);
  self->delayed_send(self, self->state.options.poll_interval, tick_atom::value);
  listen_to_source(self);
  return {
      [self](sync_atom) -> caf::result<uint64_t> {
        return publish_listing(self, self->state.options.source->list());
      },
      [self](reload_atom) -> caf::result<uint64_t> {
        return publish_listing(self, self->state.options.source->reload());
      },
      [self](register_atom, std::string& id,
             ServiceInfo& info) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (auto err = st.forwarded().check_upsert(id, info)) {
          count_refusals(st, 1);
          return err;
        }
        if (auto err = st.options.source->put(id, info))
          return err;
        backend_delta delta;
        delta.upserts.emplace(std::move(id), std::move(info));
        st.forwarded().filter_delta(delta.upserts, {});
        return self->delegate(st.registry, std::move(delta));
      },
      [self](deregister_atom, std::string& id) -> caf::result<uint64_t> {
        if (auto err = self->state.options.source->remove(id))
          return err;
        backend_delta delta;
        delta.removals.push_back(std::move(id));
        self->state.forwarded().filter_delta(delta.upserts, delta.removals);
        return self->delegate(self->state.registry, std::move(delta));
      },
      [self](attach_atom, registry_actor& registry) {
        self->state.registry = std::move(registry);
        self->state.registry_synced = false; // until a listing reaches it
        // The new registry learns reachability from scratch.
        if (self->state.stale.value_or(false))
          caf::anon_send(self->state.registry,
                         backend_status{true, "still down"});
      },
      [self](tick_atom) {
        poll_source(self);
        self->delayed_send(self, self->state.options.poll_interval,
                           tick_atom::value);
      },
      [self](wake_atom) { poll_source(self); },
  };
}

} // namespace orasi
