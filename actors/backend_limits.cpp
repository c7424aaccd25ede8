#include "actors/backend_limits.hpp"

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

} // namespace

caf::error
limit_tracker::check_listing(const ServiceMap& services,
                             const std::vector<std::string>& unreadable) const {
  // The registry keeps its last good value for an unreadable id it knew.
  auto service_count = services.size();
  auto endpoint_count = count_endpoints(services);
  for (const auto& id : unreadable)
    if (auto kept = endpoints_of_.find(id);
        kept != endpoints_of_.end() && services.count(id) == 0) {
      ++service_count;
      endpoint_count += kept->second;
    }
  if (service_count > limits_.max_services)
    return listing_over("services", service_count, limits_.max_services);
  if (endpoint_count > limits_.max_endpoints)
    return listing_over("endpoints", endpoint_count, limits_.max_endpoints);
  return {};
}

void limit_tracker::accept_listing(const ServiceMap& services,
                                   const std::vector<std::string>& unreadable) {
  std::unordered_map<std::string, size_t> next;
  size_t total = 0;
  // (A source may list an id as unreadable and still hand its last good
  // value: the listed value is what the registry keeps then.)
  for (const auto& id : unreadable)
    if (auto kept = endpoints_of_.find(id);
        kept != endpoints_of_.end() && services.count(id) == 0) {
      next.emplace(id, kept->second);
      total += kept->second;
    }
  for (const auto& [id, service] : services) {
    next[id] = service.endpoints.size();
    total += service.endpoints.size();
  }
  endpoints_of_ = std::move(next);
  total_endpoints_ = total;
}

std::string limit_tracker::over_limit(const std::string& id,
                                      const ServiceInfo& info) const {
  auto known = endpoints_of_.find(id);
  bool is_new = known == endpoints_of_.end();
  if (is_new && endpoints_of_.size() + 1 > limits_.max_services)
    return "service \"" + id + "\" would be service " +
           std::to_string(endpoints_of_.size() + 1) +
           ", over service_discovery.limits.max_services (" +
           std::to_string(limits_.max_services) + ")";
  auto total =
      total_endpoints_ - (is_new ? 0 : known->second) + info.endpoints.size();
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
    if (auto known = endpoints_of_.find(id); known != endpoints_of_.end()) {
      total_endpoints_ -= known->second;
      endpoints_of_.erase(known);
    }
  std::vector<std::string> refused;
  for (auto i = upserts.begin(); i != upserts.end();) {
    auto problem = over_limit(i->first, i->second);
    if (!problem.empty()) {
      refused.push_back(std::move(problem));
      i = upserts.erase(i);
      continue;
    }
    auto& count = endpoints_of_[i->first];
    total_endpoints_ = total_endpoints_ - count + i->second.endpoints.size();
    count = i->second.endpoints.size();
    ++i;
  }
  return refused;
}

} // namespace orasi
