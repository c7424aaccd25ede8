// What a probe actor and the prober engine exchange: one HTTP attempt out,
// one result back. The engine only moves bytes; deciding whether a response
// passes (expected statuses, 429 = degraded) is the probe actor's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "messages/health_types.hpp"

namespace orasi {

/// Where one endpoint is probed: the endpoint URL joined with the check path,
/// parsed once when the probe actor starts.
struct probe_target {
  bool tls = false;        // https
  std::string host;        // name or IP literal, without [] for IPv6
  uint16_t port = 0;       // explicit or the scheme's default
  std::string host_header; // what the Host header says ("[::1]:8080")
  std::string path;        // request-target: path and query
};

/// Joins `endpoint_url` and the check `path`: the endpoint's own path is a
/// prefix ("http://h/api/" + "/health" -> "/api/health"); the endpoint's
/// query and fragment are not used. Returns the reason on failure.
std::optional<probe_target> make_probe_target(const std::string& endpoint_url,
                                              const std::string& path,
                                              std::string& error);

/// True if `text` holds anything but printable ASCII without spaces: such
/// a URL or path would go raw into a request line or a Host header.
bool has_unsafe_url_chars(const std::string& text);

/// "http://host:port/path" of a target (for logs and reasons).
std::string to_url(const probe_target& target);

/// One HTTP GET, answered by exactly one attempt_result to `reply_to`.
struct attempt_request {
  uint64_t attempt_id = 0; // echoed back; late results are recognised by it
  probe_target target;
  caf::timespan timeout{0}; // hard deadline for connect + send + receive
};

/// What one attempt produced.
struct attempt_result {
  uint64_t attempt_id = 0;
  probe_failure failure = probe_failure::none;
  uint16_t status = 0;      // HTTP status if a response arrived, else 0
  caf::timespan latency{0}; // from submit to result
  std::string detail;       // human-readable cause for failures
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, probe_target& x) {
  return f(caf::meta::type_name("probe_target"), x.tls, x.host, x.port,
           x.host_header, x.path);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_request& x) {
  return f(caf::meta::type_name("attempt_request"), x.attempt_id, x.target,
           x.timeout);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_result& x) {
  return f(caf::meta::type_name("attempt_result"), x.attempt_id, x.failure,
           x.status, x.latency, x.detail);
}

} // namespace orasi
