#include "actors/registry_view.hpp"

#include <algorithm>

#include "messages/health_rules.hpp"

namespace orasi {

ServiceInfo merge_service(const std::string& id, const ServiceInfo& backend,
                          const verdict_map& probed, health_merge_rules rules) {
  ServiceInfo service = backend;
  for (auto& endpoint : service.endpoints) {
    auto declared = endpoint.health_status;
    auto declared_degraded = endpoint.degraded;
    auto verdict = probed.find(endpoint_key{id, endpoint.url});
    if (verdict != probed.end()) {
      endpoint.health_status = verdict->second.status;
      endpoint.degraded = verdict->second.degraded;
    } else if (rules.probed_health) {
      endpoint.health_status = EndpointHealthStatus::Unknown;
      endpoint.degraded = false;
    }
    if (rules.backend_vetoes && declared == EndpointHealthStatus::Unhealthy) {
      endpoint.health_status = EndpointHealthStatus::Unhealthy;
      endpoint.degraded = false;
    } else if (rules.backend_vetoes && declared_degraded &&
               endpoint.health_status == EndpointHealthStatus::Healthy) {
      endpoint.degraded = true;
    }
  }
  service.health_status = derive_service_health(service.endpoints);
  return service;
}

ServiceMap merge_health(const ServiceMap& backend_services,
                        const verdict_map& probed, bool probed_health,
                        bool backend_vetoes) {
  ServiceMap result;
  for (const auto& [id, service] : backend_services)
    result.emplace_hint(
        result.end(), id,
        merge_service(id, service, probed, {probed_health, backend_vetoes}));
  return result;
}

std::set<endpoint_key> endpoint_keys(const ServiceTable& services) {
  std::set<endpoint_key> keys;
  for (const auto& [id, service] : services)
    for (const auto& endpoint : service.endpoints)
      keys.emplace(id, endpoint.url);
  return keys;
}

namespace {

std::set<std::string> urls_of(const ServiceInfo* service) {
  std::set<std::string> urls;
  if (service != nullptr)
    for (const auto& endpoint : service->endpoints)
      urls.insert(endpoint.url);
  return urls;
}

} // namespace

void registry_view::start_from(const RegistrySnapshot& published) {
  merged_ = published.services;
  routable_ = published.healthy;
  backend_generation_ = published.backend_generation;
}

void registry_view::endpoint_added(const endpoint_key& key) {
  endpoints_.insert(key);
  if (removed_.erase(key) == 0)
    added_.insert(key);
}

void registry_view::endpoint_removed(const endpoint_key& key) {
  endpoints_.erase(key);
  // Its verdict goes when the removal is published (take_changes): one that
  // comes back within the same publication is no endpoint change, so the
  // supervisor keeps its probe and verdict, and so does this view.
  if (added_.erase(key) == 0)
    removed_.insert(key);
}

void registry_view::note_backend_change(const std::string& id,
                                        const ServiceInfo* before,
                                        const ServiceInfo* after) {
  auto old_urls = urls_of(before);
  auto new_urls = urls_of(after);
  for (const auto& url : old_urls)
    if (new_urls.count(url) == 0)
      endpoint_removed(endpoint_key{id, url});
  for (const auto& url : new_urls)
    if (old_urls.count(url) == 0)
      endpoint_added(endpoint_key{id, url});
  dirty_.insert(id);
}

void registry_view::replace_backend(ServiceMap listing,
                                    const std::vector<std::string>& unreadable,
                                    bool first) {
  // A value that does not parse keeps the last good one (if any).
  for (const auto& id : unreadable)
    if (auto old = backend_.record(id))
      listing.emplace(id, old->second);
  if (first)
    replace_all(std::move(listing));
  else
    replace_changed(std::move(listing));
}

void registry_view::replace_all(ServiceMap listing) {
  // Compared with what was published: all that a restarted registry knows
  // of its predecessor's backend data (the same endpoints). Deltas taken
  // before this listing were told against an empty backend: what they
  // noted is not relative to what was published, so it goes.
  added_.clear();
  removed_.clear();
  for (const auto& [id, service] : merged_)
    if (listing.count(id) == 0)
      note_backend_change(id, &service, nullptr);
  for (const auto& [id, service] : listing) {
    auto before = merged_.record(id);
    note_backend_change(id, before ? &before->second : nullptr, &service);
  }
  endpoints_.clear();
  for (const auto& [id, service] : listing)
    for (const auto& endpoint : service.endpoints)
      endpoints_.emplace(id, endpoint.url);
  // Verdicts restored before the listing may name endpoints it lacks.
  for (auto i = probed_.begin(); i != probed_.end();)
    i = endpoints_.count(i->first) > 0 ? std::next(i) : probed_.erase(i);
  backend_ = ServiceTable{listing};
  ++backend_generation_; // the first listing always counts as a change
}

void registry_view::replace_changed(ServiceMap listing) {
  std::vector<std::string> gone;
  std::vector<ServiceMap::iterator> differing;
  // Both sides are ordered by id: walk them side by side, changing the
  // table only afterwards.
  auto old = backend_.begin();
  auto now = listing.begin();
  while (old != backend_.end() || now != listing.end()) {
    if (now == listing.end() ||
        (old != backend_.end() && old->first < now->first)) {
      note_backend_change(old->first, &old->second, nullptr);
      gone.push_back(old->first);
      ++old;
    } else if (old == backend_.end() || now->first < old->first) {
      note_backend_change(now->first, nullptr, &now->second);
      differing.push_back(now++);
    } else {
      if (old->second != now->second) {
        note_backend_change(now->first, &old->second, &now->second);
        differing.push_back(now);
      }
      ++old;
      ++now;
    }
  }
  for (const auto& id : gone)
    backend_.erase(id);
  for (auto& i : differing)
    backend_.insert_or_assign(i->first, std::move(i->second));
  if (!gone.empty() || !differing.empty())
    ++backend_generation_;
}

void registry_view::apply_delta(backend_delta& delta) {
  bool changed = false;
  for (auto& id : delta.removals) {
    if (auto old = backend_.record(id)) {
      note_backend_change(id, &old->second, nullptr);
      backend_.erase(id);
      changed = true;
    }
  }
  for (auto& [id, service] : delta.upserts) {
    auto old = backend_.record(id);
    if (old && old->second == service)
      continue;
    note_backend_change(id, old ? &old->second : nullptr, &service);
    backend_.insert_or_assign(id, std::move(service));
    changed = true;
  }
  if (changed)
    ++backend_generation_;
}

bool registry_view::set_verdict(const endpoint_key& key,
                                endpoint_verdict verdict) {
  auto [slot, inserted] = probed_.emplace(key, verdict);
  if (!inserted) {
    if (slot->second == verdict)
      return false;
    slot->second = verdict;
  }
  dirty_.insert(key.first);
  return true;
}

void registry_view::refresh(const std::string& id, RegistryChanges& out) {
  auto backend = backend_.record(id);
  auto before = merged_.record(id);
  if (!backend) {
    if (before) {
      merged_.erase(id);
      routable_.erase(id);
      out.removed.push_back(id);
    }
    return;
  }
  auto service = merge_service(id, backend->second, probed_, rules_);
  if (before && before->second == service)
    return;
  // Shares the backend's record where merging changed nothing.
  auto record =
      service == backend->second
          ? backend
          : std::make_shared<const ServiceRecord>(id, std::move(service));
  merged_.insert_or_assign(record);
  (before ? out.changed : out.added).push_back(id);
  if (fully_routable(record->second))
    routable_.insert_or_assign(record);
  else if (auto routable = routable_service(record->second))
    routable_.insert_or_assign(id, std::move(*routable));
  else
    routable_.erase(id);
}

RegistryChanges registry_view::take_changes() {
  RegistryChanges out;
  for (const auto& id : dirty_)
    refresh(id, out);
  dirty_.clear();
  // An endpoint that comes back later starts from what the backend declares.
  for (const auto& key : removed_)
    probed_.erase(key);
  out.endpoints_added.assign(added_.begin(), added_.end());
  out.endpoints_removed.assign(removed_.begin(), removed_.end());
  added_.clear();
  removed_.clear();
  return out;
}

} // namespace orasi
