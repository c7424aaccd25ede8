#include "actors/registry.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "messages/health_rules.hpp"

namespace orasi {

ServiceMap merge_health(const ServiceMap& backend_services,
                        const verdict_map& probed, bool probed_health,
                        bool backend_vetoes) {
  ServiceMap result = backend_services;
  for (auto& [id, service] : result) {
    for (auto& endpoint : service.endpoints) {
      auto declared = endpoint.health_status;
      auto declared_degraded = endpoint.degraded;
      auto verdict = probed.find(endpoint_key{id, endpoint.url});
      if (verdict != probed.end()) {
        endpoint.health_status = verdict->second.status;
        endpoint.degraded = verdict->second.degraded;
      } else if (probed_health) {
        endpoint.health_status = EndpointHealthStatus::Unknown;
        endpoint.degraded = false;
      }
      if (backend_vetoes && declared == EndpointHealthStatus::Unhealthy) {
        endpoint.health_status = EndpointHealthStatus::Unhealthy;
        endpoint.degraded = false;
      } else if (backend_vetoes && declared_degraded &&
                 endpoint.health_status == EndpointHealthStatus::Healthy) {
        endpoint.degraded = true;
      }
    }
    service.health_status = derive_service_health(service.endpoints);
  }
  return result;
}

std::set<endpoint_key> endpoint_keys(const ServiceMap& services) {
  std::set<endpoint_key> keys;
  for (const auto& [id, service] : services)
    for (const auto& endpoint : service.endpoints)
      keys.emplace(id, endpoint.url);
  return keys;
}

namespace {

/// Drops probe verdicts of endpoints that no longer exist, so that an
/// endpoint that comes back starts from what the backend declares.
void prune_verdicts(registry_state& st) {
  for (auto i = st.probed.begin(); i != st.probed.end();)
    i = st.endpoints.count(i->first) > 0 ? std::next(i) : st.probed.erase(i);
}

void notify(registry_pointer self, const SnapshotPtr& snapshot) {
  for (auto& subscriber : self->state.subscribers)
    caf::anon_send(subscriber, changed_atom::value, snapshot);
}

/// Publishes a new version if the merged view or the stale flag changed.
uint64_t publish_if_changed(registry_pointer self) {
  auto& st = self->state;
  auto current = st.store->current();
  if (!st.synced)
    return current->version;
  st.publish_pending = false; // this publication includes any open batch
  auto services =
      merge_health(st.backend_services, st.probed, st.options.probed_health,
                   st.options.backend_vetoes);
  if (current->version > 0 && services == current->services &&
      st.stale == current->stale)
    return current->version;
  auto next = std::make_shared<RegistrySnapshot>();
  next->version = current->version + 1;
  next->healthy = routable_view(services);
  next->services = std::move(services);
  next->stale = st.stale;
  next->backend_generation = st.backend_generation;
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

void replace_backend_services(registry_state& st, ServiceMap services,
                              const std::vector<std::string>& unreadable) {
  // A value that does not parse keeps the last good one (if any).
  for (const auto& id : unreadable)
    if (auto old = st.backend_services.find(id);
        old != st.backend_services.end())
      services.emplace(id, old->second);
  // The first listing of a (restarted) registry always counts as a change.
  bool changed = !st.synced || services != st.backend_services;
  st.backend_services = std::move(services);
  if (changed) {
    ++st.backend_generation;
    st.endpoints = endpoint_keys(st.backend_services);
  }
}

void apply_delta(registry_state& st, backend_delta& delta) {
  bool changed = false;
  for (auto& id : delta.removals)
    changed |= st.backend_services.erase(id) > 0;
  for (auto& [id, service] : delta.upserts) {
    auto& slot = st.backend_services[id];
    changed |= slot != service;
    slot = std::move(service);
  }
  if (changed) {
    ++st.backend_generation;
    st.endpoints = endpoint_keys(st.backend_services);
  }
}

} // namespace

registry_actor::behavior_type registry(registry_pointer self,
                                       std::shared_ptr<snapshot_store> store,
                                       registry_options options) {
  self->state.store = std::move(store);
  self->state.options = options;
  // Like versions, generations continue where a crashed registry stopped.
  self->state.backend_generation =
      self->state.store->current()->backend_generation;
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
        replace_backend_services(st, std::move(listing.services),
                                 listing.unreadable);
        st.synced = true;
        prune_verdicts(st);
        return publish_if_changed(self);
      },
      [self](backend_delta& delta) -> uint64_t {
        auto& st = self->state;
        apply_delta(st, delta);
        prune_verdicts(st);
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
        if (st.synced && st.endpoints.count(key) == 0)
          return;
        st.probed[key] = endpoint_verdict{change.status, change.degraded};
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
