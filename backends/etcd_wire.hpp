// etcd v3 over its JSON gateway: request bodies and response decoders. Pure
// functions, no I/O, so that every response shape (including garbage) is
// unit-testable and fuzzable. The gateway encodes keys and values as base64
// and 64-bit integers as strings ("revision": "42"); it omits fields at their
// default (a PUT event has no "type", a lost lease no "TTL").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace orasi::backends::etcd {

struct key_value {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t lease = 0; // 0: not attached to a lease
};

/// One page of /v3/kv/range.
struct range_page {
  std::vector<key_value> kvs;
  int64_t revision = 0; // the store revision the page was read at
  bool more = false;    // more keys in the range past this page's limit
};

enum class event_type : uint8_t { put, remove };

struct watch_event {
  event_type type = event_type::put;
  key_value kv;
};

/// One message of the /v3/watch stream (one JSON object per line).
struct watch_message {
  bool created = false;
  bool canceled = false;
  /// Set when the watch was canceled because its start revision has been
  /// compacted away: the caller must re-list.
  int64_t compact_revision = 0;
  std::string cancel_reason;
  int64_t header_revision = 0;
  std::vector<watch_event> events;
};

struct lease_grant {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};

/// The gateway's error body: {"error": "...", "message": "...", "code": N}
/// (code is a gRPC status code).
struct gateway_error {
  int code = 0;
  std::string message;
};

/// gRPC status codes the client reacts to.
namespace grpc_code {
constexpr int not_found = 5;     // e.g. "requested lease not found"
constexpr int out_of_range = 11; // e.g. "required revision has been compacted"
constexpr int unavailable = 14;  // e.g. "no leader"
constexpr int unauthenticated = 16; // e.g. "invalid auth token"
} // namespace grpc_code

/// The end of the key range that holds every key starting with `prefix`
/// (prefix with its last byte incremented, trailing 0xFF bytes dropped).
std::string prefix_range_end(std::string_view prefix);

// -- request bodies ---------------------------------------------------------

/// Keys in [key, range_end), at most `limit` (0 = all), at `revision` (0 =
/// latest), sorted by key ascending so that pages can continue after the
/// last key.
std::string range_request(std::string_view key, std::string_view range_end,
                          int64_t limit = 0, int64_t revision = 0);
std::string put_request(std::string_view key, std::string_view value,
                        int64_t lease = 0);
std::string delete_request(std::string_view key);
std::string watch_create_request(std::string_view key,
                                 std::string_view range_end,
                                 int64_t start_revision);
std::string lease_grant_request(int64_t ttl_seconds);
std::string lease_id_request(int64_t id); // keepalive and revoke
std::string authenticate_request(std::string_view user,
                                 std::string_view password);

// -- response decoders --------------------------------------------------------
// Errors are errc::serialization naming the field at fault.

/// A gateway error body, or std::nullopt if `body` is not one.
std::optional<gateway_error> decode_gateway_error(std::string_view body);

caf::expected<range_page> decode_range(std::string_view body);

/// The header revision of a put or delete response, and for deletes the
/// number of keys deleted (0 for puts).
struct write_result {
  int64_t revision = 0;
  int64_t deleted = 0;
};
caf::expected<write_result> decode_write(std::string_view body);

/// One line of the watch stream: {"result": {...}} or {"error": {...}}
/// (the latter is reported as an error).
caf::expected<watch_message> decode_watch_message(std::string_view line);

caf::expected<lease_grant> decode_lease_grant(std::string_view body);

/// The remaining TTL reported by a keepalive; 0 means the lease is gone
/// (expired or revoked), which the gateway reports without an error.
caf::expected<int64_t> decode_keepalive_ttl(std::string_view body);

caf::expected<std::string> decode_auth_token(std::string_view body);

} // namespace orasi::backends::etcd
