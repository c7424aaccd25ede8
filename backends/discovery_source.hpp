// The seam between a protocol client (static file, etcd, Consul) and the
// backend actor that adapts it to messages. Plain C++: no actor code, errors
// as values, blocking allowed (the adapter runs it on its own thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/service_info.hpp"

namespace orasi::backends {

/// A full listing at one backend revision.
struct source_listing {
  ServiceMap services;
  uint64_t revision = 0;
  /// Ids whose stored value does not parse: skipped, and whatever the
  /// registry last knew for them stays (a typo never wipes a service).
  std::vector<std::string> unreadable;
};

/// What poll() found: a full listing, or the changes since the last update.
struct source_update {
  /// True: `listing` replaces everything. False: `listing.services` are
  /// created or replaced, `removals` deleted, the rest unchanged.
  bool full = true;
  source_listing listing;
  std::vector<std::string> removals;
};

/// Counters a source keeps about its backend (zero where not applicable).
struct source_counters {
  uint64_t unreadable_values = 0; // values skipped because they do not parse
  uint64_t reconnects = 0;        // watch streams re-established
  uint64_t relists = 0;           // full listings after a broken stream
  uint64_t lease_regrants = 0;    // registrations redone after a lost lease
};

/// A source of services. Implementations: static_source, etcd_source and
/// consul_source.
class discovery_source {
public:
  virtual ~discovery_source();

  /// Short name for logs and metrics ("static", "etcd", "consul").
  virtual std::string name() const = 0;

  /// Everything the source holds now (start, resync after a restart, the
  /// refresh safety net).
  virtual caf::expected<source_listing> list() = 0;

  /// Re-reads the origin now, even without a change signal (SIGHUP). Unlike
  /// list(), reports invalid new content as an error. Default: list().
  virtual caf::expected<source_listing> reload();

  /// Returns what changed since the last list() or poll(), std::nullopt if
  /// nothing. An error means the source is unreachable or its new content is
  /// invalid; the caller keeps serving what it has.
  virtual caf::expected<std::optional<source_update>> poll() = 0;

  /// Push sources (etcd's watch) call `notify` from their own threads when
  /// poll() has news, so that the caller polls at once rather than at its
  /// next tick. `notify` must be cheap and thread-safe. Default: never.
  virtual void set_change_listener(std::function<void()> notify);

  /// The runtime stops: end background work and withdraw this instance's
  /// registrations (etcd revokes its lease). A later list() starts again.
  virtual void suspend();

  virtual source_counters counters() const;

  /// Stores (creates or replaces) one service.
  virtual caf::error put(const std::string& id, const ServiceInfo& info) = 0;

  /// Removes one service; errc::not_found if it does not exist.
  virtual caf::error remove(const std::string& id) = 0;
};

} // namespace orasi::backends
