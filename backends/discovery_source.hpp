// The seam between a protocol client (static file, etcd, Consul) and the
// backend actor that adapts it to messages. Plain C++: no actor code, errors
// as values, blocking allowed (the adapter runs it on its own thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "messages/service_info.hpp"

namespace orasi::backends {

/// A full listing at one backend revision.
struct source_listing {
  ServiceMap services;
  uint64_t revision = 0;
};

/// A source of services. Implementations: static_source (this issue); etcd
/// and Consul clients implement the same interface.
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

  /// Returns a new listing if the source changed since the last list() or
  /// poll(), std::nullopt if not. An error means the source is unreachable
  /// or its new content is invalid; the caller keeps serving what it has.
  virtual caf::expected<std::optional<source_listing>> poll() = 0;

  /// Stores (creates or replaces) one service.
  virtual caf::error put(const std::string& id, const ServiceInfo& info) = 0;

  /// Removes one service; errc::not_found if it does not exist.
  virtual caf::error remove(const std::string& id) = 0;
};

} // namespace orasi::backends
