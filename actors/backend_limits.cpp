#include "actors/backend_limits.hpp"

#include <algorithm>
#include <functional>

#include "messages/errors.hpp"

namespace orasi {

namespace {

size_t count_endpoints(const ServiceMap& services) {
  size_t total = 0;
  for (const auto& [id, service] : services)
    total += service.endpoints.size();
  return total;
}

/// "the listing has 7 services, over service_discovery.limits.max_services
/// (5)".
caf::error listing_over(const std::string& what, size_t count, size_t limit) {
  return make_error(errc::backend_rejected,
                    "the listing has " + std::to_string(count) + " " + what +
                        ", over service_discovery.limits.max_" + what + " (" +
                        std::to_string(limit) + ")");
}

/// splitmix64's finalizer: spreads every input bit over the output.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct hasher {
  uint64_t state = 0x6a09e667f3bcc909ULL;
  void add(uint64_t x) { state = mix(state ^ mix(x + 0x9e3779b97f4a7c15ULL)); }
  void add(const std::string& x) {
    add(x.size());
    add(std::hash<std::string>{}(x));
  }
  void add(const Metadata& metadata) {
    add(metadata.size());
    for (const auto& [key, value] : metadata) {
      add(key);
      add(value);
    }
  }
};

} // namespace

uint64_t service_fingerprint(const ServiceInfo& info) {
  hasher h;
  h.add(info.name);
  h.add(static_cast<uint64_t>(info.health_status));
  h.add(info.metadata);
  h.add(info.endpoints.size());
  for (const auto& endpoint : info.endpoints) {
    h.add(endpoint.url);
    h.add(endpoint.weight);
    h.add(static_cast<uint64_t>(endpoint.health_status));
    h.add(endpoint.degraded);
    h.add(endpoint.metadata);
  }
  return h.state;
}

caf::error
limit_tracker::check_listing(const ServiceMap& services,
                             const std::vector<std::string>& unreadable) const {
  // The registry keeps its last good value for an unreadable id it knew.
  auto service_count = services.size();
  auto endpoint_count = count_endpoints(services);
  for (const auto& id : unreadable)
    if (auto kept = forwarded_.find(id);
        kept != forwarded_.end() && services.count(id) == 0) {
      ++service_count;
      endpoint_count += kept->second.endpoints;
    }
  if (service_count > limits_.max_services)
    return listing_over("services", service_count, limits_.max_services);
  if (endpoint_count > limits_.max_endpoints)
    return listing_over("endpoints", endpoint_count, limits_.max_endpoints);
  return {};
}

void limit_tracker::forward(const std::string& id, const ServiceInfo& info) {
  auto& slot = forwarded_[id];
  total_endpoints_ = total_endpoints_ - slot.endpoints + info.endpoints.size();
  slot = forwarded_service{info.endpoints.size(), service_fingerprint(info)};
}

void limit_tracker::accept_listing(const ServiceMap& services,
                                   const std::vector<std::string>& unreadable) {
  std::unordered_map<std::string, forwarded_service> next;
  size_t total = 0;
  // (A source may list an id as unreadable and still hand its last good
  // value: the listed value is what the registry keeps then.)
  for (const auto& id : unreadable)
    if (auto kept = forwarded_.find(id);
        kept != forwarded_.end() && services.count(id) == 0) {
      next.emplace(id, kept->second);
      total += kept->second.endpoints;
    }
  for (const auto& [id, service] : services) {
    next[id] = forwarded_service{service.endpoints.size(),
                                 service_fingerprint(service)};
    total += service.endpoints.size();
  }
  forwarded_ = std::move(next);
  total_endpoints_ = total;
}

limit_tracker::listing_changes
limit_tracker::changes_to(const ServiceMap& services,
                          const std::vector<std::string>& unreadable) const {
  listing_changes out;
  for (const auto& [id, service] : services) {
    auto known = forwarded_.find(id);
    if (known == forwarded_.end() ||
        known->second.fingerprint != service_fingerprint(service))
      out.upserted.push_back(id);
  }
  for (const auto& [id, known] : forwarded_)
    if (services.count(id) == 0 &&
        std::find(unreadable.begin(), unreadable.end(), id) == unreadable.end())
      out.removed.push_back(id);
  std::sort(out.removed.begin(), out.removed.end());
  return out;
}

std::string limit_tracker::over_limit(const std::string& id,
                                      const ServiceInfo& info) const {
  auto known = forwarded_.find(id);
  bool is_new = known == forwarded_.end();
  if (is_new && forwarded_.size() + 1 > limits_.max_services)
    return "service \"" + id + "\" would be service " +
           std::to_string(forwarded_.size() + 1) +
           ", over service_discovery.limits.max_services (" +
           std::to_string(limits_.max_services) + ")";
  auto total = total_endpoints_ - (is_new ? 0 : known->second.endpoints) +
               info.endpoints.size();
  if (total > limits_.max_endpoints)
    return "service \"" + id + "\" would make " + std::to_string(total) +
           " endpoints, over service_discovery.limits.max_endpoints (" +
           std::to_string(limits_.max_endpoints) + ")";
  return {};
}

caf::error limit_tracker::check_upsert(const std::string& id,
                                       const ServiceInfo& info) const {
  auto problem = over_limit(id, info);
  if (problem.empty())
    return {};
  return make_error(errc::backend_rejected, std::move(problem));
}

std::vector<std::string>
limit_tracker::filter_delta(ServiceMap& upserts,
                            const std::vector<std::string>& removals) {
  for (const auto& id : removals)
    if (auto known = forwarded_.find(id); known != forwarded_.end()) {
      total_endpoints_ -= known->second.endpoints;
      forwarded_.erase(known);
    }
  std::vector<std::string> refused;
  for (auto i = upserts.begin(); i != upserts.end();) {
    auto problem = over_limit(i->first, i->second);
    if (!problem.empty()) {
      refused.push_back(std::move(problem));
      i = upserts.erase(i);
      continue;
    }
    forward(i->first, i->second);
    ++i;
  }
  return refused;
}

} // namespace orasi
