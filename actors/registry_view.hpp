// The registry's data without the actor: the backend's services, probe
// verdicts, and the merged and routable views, kept up to date per changed
// service id so that publishing a version costs O(change), not O(registry).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "messages/actor_messages.hpp"
#include "messages/snapshot.hpp"

namespace orasi {

/// A probe verdict on one endpoint.
struct endpoint_verdict {
  EndpointHealthStatus status = EndpointHealthStatus::Unknown;
  bool degraded = false;
};

inline bool operator==(const endpoint_verdict& x, const endpoint_verdict& y) {
  return x.status == y.status && x.degraded == y.degraded;
}

using verdict_map = std::map<endpoint_key, endpoint_verdict>;

/// How verdicts and the backend's declared health combine.
struct health_merge_rules {
  /// Endpoints are actively probed: an endpoint's health is then only what
  /// the probes say (Unknown until they decide), never what the backend
  /// declares.
  bool probed_health = false;
  /// With probed_health: the backend's own verdict still counts where it is
  /// worse (Consul's checks, health_source "both"): an endpoint the backend
  /// declares Unhealthy stays Unhealthy, one it flags degraded is degraded.
  bool backend_vetoes = false;
};

/// One service as published: the backend's service with the verdicts on
/// its endpoints applied and its health derived from them.
ServiceInfo merge_service(const std::string& id, const ServiceInfo& backend,
                          const verdict_map& probed, health_merge_rules rules);

/// merge_service over a whole map (for tests and one-off views).
ServiceMap merge_health(const ServiceMap& backend_services,
                        const verdict_map& probed, bool probed_health,
                        bool backend_vetoes = false);

/// Every (service id, endpoint url) of `services`.
std::set<endpoint_key> endpoint_keys(const ServiceTable& services);

class registry_view {
public:
  explicit registry_view(health_merge_rules rules = {}) : rules_(rules) {}

  /// Continues from a snapshot published earlier (by a registry that
  /// crashed): the next changes are relative to it.
  void start_from(const RegistrySnapshot& published);

  /// Replaces the backend's services with a full listing: O(listing) to
  /// compare, O(change) to apply. Ids in `unreadable` keep their last good
  /// value. With `first`, everything published so far is compared too (a
  /// restarted registry's first listing) and verdicts of endpoints the
  /// listing lacks are dropped.
  void replace_backend(ServiceMap listing,
                       const std::vector<std::string>& unreadable, bool first);

  /// Applies upserts and removals: O(change).
  void apply_delta(backend_delta& delta);

  /// Whether the backend lists this endpoint.
  bool lists(const endpoint_key& key) const {
    return endpoints_.count(key) > 0;
  }

  /// Records a verdict; false if it is the one already recorded.
  bool set_verdict(const endpoint_key& key, endpoint_verdict verdict);

  /// Brings the merged and routable views up to date with everything
  /// recorded since the last call and says what changed in them.
  RegistryChanges take_changes();

  const ServiceTable& services() const { return merged_; }
  const ServiceTable& routable() const { return routable_; }
  const ServiceTable& backend_services() const { return backend_; }
  const verdict_map& verdicts() const { return probed_; }
  /// Increases whenever the backend's services change.
  uint64_t backend_generation() const { return backend_generation_; }
  void set_backend_generation(uint64_t x) { backend_generation_ = x; }

private:
  /// Records that the backend's service `id` went from `before` to `after`
  /// (either may be null): endpoint index, endpoint changes, verdicts.
  void note_backend_change(const std::string& id, const ServiceInfo* before,
                           const ServiceInfo* after);
  void replace_all(ServiceMap listing);
  void replace_changed(ServiceMap listing);
  void endpoint_added(const endpoint_key& key);
  void endpoint_removed(const endpoint_key& key);
  /// Publishes `id` from the backend's record into the views.
  void refresh(const std::string& id, RegistryChanges& out);

  health_merge_rules rules_;
  ServiceTable backend_;             // as the backend listed them
  uint64_t backend_generation_ = 0;  // bumped when backend_ changes
  std::set<endpoint_key> endpoints_; // every endpoint of backend_
  verdict_map probed_;               // probe verdicts
  ServiceTable merged_;              // services with health merged
  ServiceTable routable_;            // the routable view of merged_
  std::set<std::string> dirty_;      // ids to refresh in merged_
  std::set<endpoint_key> added_;     // endpoints new since take_changes()
  std::set<endpoint_key> removed_;   // endpoints gone since take_changes()
};

} // namespace orasi
