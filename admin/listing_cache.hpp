// The admin API's big listings (/v1/services, /v1/health/services, the
// /v1/watch full body) kept as one serialized fragment per service, so that
// the body of a new registry version re-serializes only the services that
// changed since the last one, not the whole registry. A fragment stays valid
// while the table holds the same record pointer: ServiceTable shares an
// unchanged service's record between versions, and a changed service gets a
// new record.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "messages/snapshot.hpp"

namespace orasi {

/// What a listing's body is made of: `head`, then the JSON object
/// {"<id>": ServiceInfo, ...} of `table`, then `tail`. Byte for byte what
/// json::serialize() makes of the same JSON value.
struct listing_format {
  /// The table listed (the snapshot's `services` or `healthy`).
  const ServiceTable& (*table)(const RegistrySnapshot&);
  /// The text before the object; null for none.
  std::string (*head)(const RegistrySnapshot&) = nullptr;
  /// The text after the object.
  const char* tail = "\n";
};

/// GET /v1/services: {"<id>": ServiceInfo, ...} and a newline.
listing_format services_listing();
/// GET /v1/health/services: the same of the routable view.
listing_format routable_listing();
/// GET /v1/watch's full answer: {"version", "stale", "services"}.
listing_format watch_listing();

/// One listing's body per registry version, built from per-service
/// fragments. Thread-safe: concurrent readers of one version wait for a
/// single build and share its body; a reader holding an older version than
/// the last built gets a body of its own (from the fragments it shares with
/// the newer version) and changes nothing.
class listing_cache {
public:
  explicit listing_cache(listing_format format) : format_(format) {}

  listing_cache(const listing_cache&) = delete;
  listing_cache& operator=(const listing_cache&) = delete;

  /// The body for `snapshot`: O(changed services) serializations and one
  /// pass over the table (pointer compares and string appends).
  std::shared_ptr<const std::string> body(const RegistrySnapshot& snapshot);

  /// Services serialized since construction (each change costs one): what
  /// tests and benchmarks check.
  uint64_t fragments_serialized() const;

private:
  /// One service's `"<id>":{...}` text and the record it was made from.
  struct fragment {
    ServiceRecordPtr record;
    std::string text;
  };

  /// Builds the body for `snapshot`; with `keep`, the fragments become
  /// those of `snapshot` (the ones of services it no longer lists go).
  std::shared_ptr<const std::string> build(const RegistrySnapshot& snapshot,
                                           bool keep);

  const listing_format format_;
  mutable std::mutex mutex_; // guards everything below; held while building
  uint64_t version_ = 0;     // version of `body_` and `fragments_`
  std::shared_ptr<const std::string> body_;
  std::vector<fragment> fragments_; // in id order, as the table iterates
  uint64_t serialized_ = 0;
};

} // namespace orasi
