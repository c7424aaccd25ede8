#include "actors/registry.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "messages/health_rules.hpp"

namespace orasi {

namespace {

void notify(registry_pointer self, const SnapshotPtr& snapshot) {
  for (auto& subscriber : self->state.subscribers)
    caf::anon_send(subscriber, changed_atom::value, snapshot);
}

/// Publishes a new version if a service or the stale flag changed: O(change).
uint64_t publish_if_changed(registry_pointer self) {
  auto& st = self->state;
  auto current = st.store->current();
  if (!st.synced)
    return current->version;
  st.publish_pending = false; // this publication includes any open batch
  auto changes = st.view.take_changes();
  if (current->version > 0 && changes.empty() && st.stale == current->stale)
    return current->version;
  auto next = std::make_shared<RegistrySnapshot>();
  next->version = current->version + 1;
  next->services = st.view.services(); // shares every entry: O(1)
  next->healthy = st.view.routable();
  next->stale = st.stale;
  next->backend_generation = st.view.backend_generation();
  next->changes = std::move(changes);
  SnapshotPtr published = std::move(next);
  st.store->publish(published);
  notify(self, published);
  return published->version;
}

/// Opens a batch window for health changes unless one is open.
void schedule_publish(registry_pointer self) {
  auto& st = self->state;
  if (st.publish_pending)
    return;
  st.publish_pending = true;
  if (st.options.health_batch_window.count() > 0)
    self->delayed_send(self, st.options.health_batch_window,
                       publish_atom::value);
  else
    self->send(self, publish_atom::value); // after what is queued already
}

} // namespace

registry_actor::behavior_type registry(registry_pointer self,
                                       std::shared_ptr<snapshot_store> store,
                                       registry_options options) {
  auto& st = self->state;
  st.store = std::move(store);
  st.options = options;
  st.view = registry_view{{options.probed_health, options.backend_vetoes}};
  // Like versions, generations continue where a crashed registry stopped,
  // and changes are told relative to what it published last.
  st.view.start_from(*st.store->current());
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& subscriber) {
                                return subscriber.address() == msg.source;
                              }),
               subs.end());
  });
  return {
      [self](backend_snapshot& listing) -> uint64_t {
        auto& st = self->state;
        st.view.replace_backend(std::move(listing.services), listing.unreadable,
                                !st.synced);
        st.synced = true;
        return publish_if_changed(self);
      },
      [self](backend_delta& delta) -> uint64_t {
        self->state.view.apply_delta(delta);
        return publish_if_changed(self);
      },
      [self](backend_status& status) -> uint64_t {
        if (status.stale != self->state.stale)
          spdlog::warn("backend {}{}",
                       status.stale ? "unreachable, serving "
                                      "last-known services: "
                                    : "reachable again",
                       status.reason);
        self->state.stale = status.stale;
        return publish_if_changed(self);
      },
      [self](endpoint_health_changed& change) {
        auto& st = self->state;
        // A verdict for an endpoint the backend no longer lists is late.
        // (Before the first listing, restored verdicts are kept; the
        // listing prunes them.)
        endpoint_key key{change.service_id, change.endpoint_url};
        if (st.synced && !st.view.lists(key))
          return;
        if (st.view.set_verdict(
                key, endpoint_verdict{change.status, change.degraded}))
          schedule_publish(self);
      },
      [self](publish_atom) {
        if (self->state.publish_pending)
          publish_if_changed(self);
      },
      [self](subscribe_atom, caf::actor& subscriber) -> uint64_t {
        auto& st = self->state;
        auto& subs = st.subscribers;
        auto current = st.store->current();
        if (std::find(subs.begin(), subs.end(), subscriber) != subs.end())
          return current->version; // already subscribed: nothing new to say
        self->monitor(subscriber);
        subs.push_back(subscriber);
        if (st.synced)
          caf::anon_send(subscriber, changed_atom::value, current);
        return current->version;
      },
      [self](unsubscribe_atom, caf::actor& subscriber) {
        auto& subs = self->state.subscribers;
        self->demonitor(subscriber);
        subs.erase(std::remove(subs.begin(), subs.end(), subscriber),
                   subs.end());
      },
      [self](snapshot_atom) -> SnapshotPtr {
        return self->state.store->current();
      },
  };
}

} // namespace orasi
