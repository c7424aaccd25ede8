#include "backends/etcd_wire.hpp"

#include <charconv>

#include <boost/json.hpp>

#include "backends/base64.hpp"
#include "messages/errors.hpp"

namespace json = boost::json;

namespace orasi::backends::etcd {

namespace {

caf::error bad(const std::string& path, const std::string& what) {
  return make_error(errc::serialization, "etcd response " + path + ": " + what);
}

caf::expected<json::object> parse_object(std::string_view body,
                                         const std::string& what) {
  json::error_code ec;
  auto value = json::parse(body, ec);
  if (ec)
    return bad(what, "not JSON (" + ec.message() + ")");
  if (!value.is_object())
    return bad(what, "expected an object");
  return std::move(value.as_object());
}

/// The gateway writes int64 as strings; accept numbers too. Absent = 0.
caf::expected<int64_t> int_field(const json::object& obj, std::string_view key,
                                 const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null())
    return int64_t{0};
  const auto& v = it->value();
  if (v.is_int64())
    return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= INT64_MAX)
    return static_cast<int64_t>(v.as_uint64());
  if (v.is_string()) {
    const auto& s = v.as_string();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc{} && end == s.data() + s.size())
      return out;
  }
  return bad(path + "." + std::string{key}, "expected an integer");
}

/// A base64 field, decoded. Absent = empty.
caf::expected<std::string> bytes_field(const json::object& obj,
                                       std::string_view key,
                                       const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null())
    return std::string{};
  if (!it->value().is_string())
    return bad(path + "." + std::string{key}, "expected a base64 string");
  const auto& s = it->value().as_string();
  auto decoded = base64_decode(std::string_view{s.data(), s.size()});
  if (!decoded)
    return bad(path + "." + std::string{key}, "invalid base64");
  return std::move(*decoded);
}

bool bool_field(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  return it != obj.end() && it->value().is_bool() && it->value().as_bool();
}

const json::object* object_field(const json::object& obj,
                                 std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_object())
    return nullptr;
  return &it->value().as_object();
}

caf::expected<int64_t> header_revision(const json::object& obj,
                                       const std::string& path) {
  auto* header = object_field(obj, "header");
  if (header == nullptr)
    return bad(path + ".header", "missing");
  return int_field(*header, "revision", path + ".header");
}

caf::expected<key_value> decode_kv(const json::value& value,
                                   const std::string& path) {
  if (!value.is_object())
    return bad(path, "expected an object");
  const auto& obj = value.as_object();
  key_value kv;
  auto key = bytes_field(obj, "key", path);
  auto val = bytes_field(obj, "value", path);
  auto rev = int_field(obj, "mod_revision", path);
  auto lease = int_field(obj, "lease", path);
  if (!key)
    return std::move(key.error());
  if (!val)
    return std::move(val.error());
  if (!rev)
    return std::move(rev.error());
  if (!lease)
    return std::move(lease.error());
  if (key->empty())
    return bad(path + ".key", "missing");
  kv.key = std::move(*key);
  kv.value = std::move(*val);
  kv.mod_revision = *rev;
  kv.lease = *lease;
  return kv;
}

caf::error error_from(const gateway_error& err, const std::string& what) {
  return make_error(errc::backend_rejected, "etcd " + what + ": " +
                                                err.message + " (code " +
                                                std::to_string(err.code) + ")");
}

std::string to_string(const json::object& obj) {
  return json::serialize(obj);
}

json::string b64(std::string_view bytes) {
  auto encoded = base64_encode(bytes);
  return json::string{encoded};
}

} // namespace

std::string prefix_range_end(std::string_view prefix) {
  std::string end{prefix};
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xFF) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  // Every byte is 0xFF (or the prefix is empty): the range is unbounded,
  // which etcd spells as "\0".
  return std::string(1, '\0');
}

std::string range_request(std::string_view key, std::string_view range_end,
                          int64_t limit, int64_t revision) {
  json::object req;
  req["key"] = b64(key);
  req["range_end"] = b64(range_end);
  if (limit > 0)
    req["limit"] = std::to_string(limit);
  if (revision > 0)
    req["revision"] = std::to_string(revision);
  req["sort_order"] = "ASCEND";
  req["sort_target"] = "KEY";
  return to_string(req);
}

std::string put_request(std::string_view key, std::string_view value,
                        int64_t lease) {
  json::object req;
  req["key"] = b64(key);
  req["value"] = b64(value);
  if (lease != 0)
    req["lease"] = std::to_string(lease);
  return to_string(req);
}

std::string delete_request(std::string_view key) {
  json::object req;
  req["key"] = b64(key);
  return to_string(req);
}

std::string watch_create_request(std::string_view key,
                                 std::string_view range_end,
                                 int64_t start_revision) {
  json::object create;
  create["key"] = b64(key);
  create["range_end"] = b64(range_end);
  create["start_revision"] = std::to_string(start_revision);
  json::object req;
  req["create_request"] = std::move(create);
  return to_string(req);
}

std::string lease_grant_request(int64_t ttl_seconds) {
  json::object req;
  req["TTL"] = std::to_string(ttl_seconds);
  return to_string(req);
}

std::string lease_id_request(int64_t id) {
  json::object req;
  req["ID"] = std::to_string(id);
  return to_string(req);
}

std::string authenticate_request(std::string_view user,
                                 std::string_view password) {
  json::object req;
  req["name"] = user;
  req["password"] = password;
  return to_string(req);
}

std::optional<gateway_error> decode_gateway_error(std::string_view body) {
  json::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object())
    return std::nullopt;
  const auto& obj = value.as_object();
  // Unary calls: {"error","message","code"}; streams wrap it in "error".
  const auto* err = &obj;
  if (auto* inner = object_field(obj, "error"))
    err = inner;
  // Streams say "grpc_code" where unary calls say "code".
  auto code = err->find("code");
  if (code == err->end())
    code = err->find("grpc_code");
  if (code == err->end() || !code->value().is_number())
    return std::nullopt;
  gateway_error out;
  json::error_code conv;
  out.code = code->value().to_number<int>(conv);
  if (conv)
    return std::nullopt;
  for (auto key : {"message", "error"}) {
    auto it = err->find(key);
    if (it != err->end() && it->value().is_string()) {
      out.message = std::string{it->value().as_string()};
      break;
    }
  }
  return out;
}

caf::expected<range_page> decode_range(std::string_view body) {
  auto obj = parse_object(body, "range");
  if (!obj)
    return std::move(obj.error());
  range_page page;
  auto revision = header_revision(*obj, "range");
  if (!revision)
    return std::move(revision.error());
  page.revision = *revision;
  page.more = bool_field(*obj, "more");
  auto it = obj->find("kvs");
  if (it == obj->end())
    return page; // the gateway omits an empty list
  if (!it->value().is_array())
    return bad("range.kvs", "expected an array");
  const auto& kvs = it->value().as_array();
  page.kvs.reserve(kvs.size());
  for (size_t i = 0; i < kvs.size(); ++i) {
    auto kv = decode_kv(kvs[i], "range.kvs[" + std::to_string(i) + "]");
    if (!kv)
      return std::move(kv.error());
    page.kvs.push_back(std::move(*kv));
  }
  return page;
}

caf::expected<write_result> decode_write(std::string_view body) {
  auto obj = parse_object(body, "write");
  if (!obj)
    return std::move(obj.error());
  auto revision = header_revision(*obj, "write");
  if (!revision)
    return std::move(revision.error());
  auto deleted = int_field(*obj, "deleted", "write");
  if (!deleted)
    return std::move(deleted.error());
  return write_result{*revision, *deleted};
}

caf::expected<watch_message> decode_watch_message(std::string_view line) {
  auto obj = parse_object(line, "watch");
  if (!obj)
    return std::move(obj.error());
  if (auto err = decode_gateway_error(line); err && obj->contains("error"))
    return error_from(*err, "watch");
  auto* result = object_field(*obj, "result");
  if (result == nullptr)
    return bad("watch.result", "missing");
  watch_message msg;
  msg.created = bool_field(*result, "created");
  msg.canceled = bool_field(*result, "canceled");
  auto compact = int_field(*result, "compact_revision", "watch.result");
  if (!compact)
    return std::move(compact.error());
  msg.compact_revision = *compact;
  if (auto it = result->find("cancel_reason");
      it != result->end() && it->value().is_string())
    msg.cancel_reason = std::string{it->value().as_string()};
  if (auto* header = object_field(*result, "header")) {
    auto revision = int_field(*header, "revision", "watch.result.header");
    if (!revision)
      return std::move(revision.error());
    msg.header_revision = *revision;
  }
  auto events = result->find("events");
  if (events == result->end())
    return msg;
  if (!events->value().is_array())
    return bad("watch.result.events", "expected an array");
  const auto& list = events->value().as_array();
  msg.events.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    auto path = "watch.result.events[" + std::to_string(i) + "]";
    if (!list[i].is_object())
      return bad(path, "expected an object");
    const auto& ev = list[i].as_object();
    watch_event event;
    if (auto type = ev.find("type"); type != ev.end()) {
      if (type->value() == "DELETE")
        event.type = event_type::remove;
      else if (type->value() != "PUT")
        return bad(path + ".type", "expected PUT or DELETE");
    }
    auto kv_it = ev.find("kv");
    if (kv_it == ev.end())
      return bad(path + ".kv", "missing");
    auto kv = decode_kv(kv_it->value(), path + ".kv");
    if (!kv)
      return std::move(kv.error());
    event.kv = std::move(*kv);
    msg.events.push_back(std::move(event));
  }
  return msg;
}

caf::expected<lease_grant> decode_lease_grant(std::string_view body) {
  auto obj = parse_object(body, "lease grant");
  if (!obj)
    return std::move(obj.error());
  auto id = int_field(*obj, "ID", "lease grant");
  auto ttl = int_field(*obj, "TTL", "lease grant");
  if (!id)
    return std::move(id.error());
  if (!ttl)
    return std::move(ttl.error());
  if (*id == 0)
    return bad("lease grant.ID", "missing");
  return lease_grant{*id, *ttl};
}

caf::expected<int64_t> decode_keepalive_ttl(std::string_view body) {
  auto obj = parse_object(body, "lease keepalive");
  if (!obj)
    return std::move(obj.error());
  if (auto err = decode_gateway_error(body); err && obj->contains("error"))
    return error_from(*err, "lease keepalive");
  auto* result = object_field(*obj, "result");
  if (result == nullptr)
    return bad("lease keepalive.result", "missing");
  return int_field(*result, "TTL", "lease keepalive.result");
}

caf::expected<std::string> decode_auth_token(std::string_view body) {
  auto obj = parse_object(body, "authenticate");
  if (!obj)
    return std::move(obj.error());
  auto it = obj->find("token");
  if (it == obj->end() || !it->value().is_string() ||
      it->value().as_string().empty())
    return bad("authenticate.token", "missing");
  return std::string{it->value().as_string()};
}

} // namespace orasi::backends::etcd
