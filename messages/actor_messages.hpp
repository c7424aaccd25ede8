// Every atom and message struct the actors exchange. Registered with the
// actor system in type_registration.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "messages/probe_messages.hpp"
#include "messages/service_info.hpp"
#include "messages/service_info_inspect.hpp"
#include "messages/snapshot.hpp"

namespace orasi {

// -- atoms (CAF 0.17: at most 10 characters) ----------------------------------

using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using deregister_atom = caf::atom_constant<caf::atom("deregister")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using lifecycle_atom = caf::atom_constant<caf::atom("lifecycle")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using retune_atom = caf::atom_constant<caf::atom("retune")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

// -- lifecycle ----------------------------------------------------------------

/// The supervisor's lifecycle: stopped -> starting -> running -> stopping ->
/// stopped.
enum class lifecycle_state : uint8_t { stopped, starting, running, stopping };

const char* to_string(lifecycle_state x);

/// Which supervised child a restart refers to (probes: any crashed probe).
enum class child_kind : uint8_t { registry, backend, probes };

const char* to_string(child_kind x);

// -- backend -> registry
// --------------------------------------------------------

/// A full listing from the backend; replaces everything the registry knew.
struct backend_snapshot {
  ServiceMap services;
  /// Backend-specific revision (etcd revision, Consul index, file generation).
  uint64_t revision = 0;
  /// Ids present in the backend whose values do not parse: the registry
  /// keeps what it knew for them instead of dropping the service.
  std::vector<std::string> unreadable;
};

/// Incremental changes from the backend (watch events, API writes).
struct backend_delta {
  ServiceMap upserts;
  std::vector<std::string> removals;
  uint64_t revision = 0;
};

/// The backend is (un)reachable: while stale, last-known services are served.
struct backend_status {
  bool stale = false;
  std::string reason;
};

// -- probes -> supervisor -> registry ----------------------------------------

/// The result of one health check (up to 1 + retries attempts) of an endpoint.
struct probe_outcome {
  std::string service_id;
  std::string endpoint_url;
  bool passed = false;
  /// HTTP status of the deciding attempt; 0 if no response was received.
  uint16_t status_code = 0;
  caf::timespan latency{0};
  /// Why the check failed ("timeout", "refused", "status 500", ...).
  std::string reason;
  /// Passed with 429 Too Many Requests: alive but shedding load.
  bool degraded = false;
  /// The kind of failure of the deciding attempt (none if passed).
  probe_failure failure = probe_failure::none;
  /// The actor id of the probe whose schedule made the check (0 if the
  /// outcome came from elsewhere, e.g. a host feeding its own results).
  uint64_t probe_id = 0;
};

/// Check outcomes the probe engine delivers together: one message for many
/// checks, so that the checks of a busy second cost a few worker wake-ups.
struct probe_outcome_batch {
  std::vector<probe_outcome> outcomes;
};

/// An endpoint's health as decided by the threshold machine.
struct endpoint_health_changed {
  std::string service_id;
  std::string endpoint_url;
  EndpointHealthStatus status = EndpointHealthStatus::Unknown;
  std::string reason;
  /// Healthy but shedding load (see probe_outcome::degraded).
  bool degraded = false;
};

// -- inspectors ---------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backend_snapshot& x) {
  return f(caf::meta::type_name("backend_snapshot"), x.services, x.revision,
           x.unreadable);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backend_delta& x) {
  return f(caf::meta::type_name("backend_delta"), x.upserts, x.removals,
           x.revision);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backend_status& x) {
  return f(caf::meta::type_name("backend_status"), x.stale, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_outcome& x) {
  return f(caf::meta::type_name("probe_outcome"), x.service_id, x.endpoint_url,
           x.passed, x.status_code, x.latency, x.reason, x.degraded, x.failure,
           x.probe_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_outcome_batch& x) {
  return f(caf::meta::type_name("probe_outcome_batch"), x.outcomes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        endpoint_health_changed& x) {
  return f(caf::meta::type_name("endpoint_health_changed"), x.service_id,
           x.endpoint_url, x.status, x.reason, x.degraded);
}

} // namespace orasi

// Snapshots are immutable and shared by pointer inside one process; they are
// never serialized, so the pointer is an allowed (local-only) message type.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orasi::SnapshotPtr)
