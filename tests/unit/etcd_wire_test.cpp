// The etcd gateway's wire format: request bodies, and the decoders against
// responses captured from a real etcd 3.4 (shapes, casing, int64-as-string,
// omitted defaults), plus garbage.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "backends/base64.hpp"
#include "backends/etcd_wire.hpp"
#include "messages/errors.hpp"

using namespace orasi;
using namespace orasi::backends;
namespace json = boost::json;

namespace {

std::string b64(std::string_view text) {
  return base64_encode(text);
}

std::string text(const json::value& value) {
  return std::string{value.as_string()};
}

// Captured from etcd 3.4.23 (keys/values re-encoded for readability).
const std::string header =
    R"("header":{"cluster_id":"324952591200643719","member_id":)"
    R"("3319814642761637952","revision":"7","raft_term":"2"})";

} // namespace

TEST_CASE("base64 round-trips every byte value and length", "[etcd][wire]") {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 37) {
    auto part = all.substr(0, n);
    auto decoded = base64_decode(base64_encode(part));
    REQUIRE(decoded);
    CHECK(*decoded == part);
  }
  CHECK(base64_encode("/orasi/services/a") == "L29yYXNpL3NlcnZpY2VzL2E=");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("a") == "YQ==");
}

TEST_CASE("base64 rejects malformed text", "[etcd][wire]") {
  for (auto bad : {"YQ=", "Y===", "YQ==YQ==", "!!!!", "YW I", "YWJj\n"})
    CHECK_FALSE(base64_decode(bad));
  CHECK(base64_decode("")->empty());
}

TEST_CASE("prefix_range_end increments the last byte", "[etcd][wire]") {
  CHECK(etcd::prefix_range_end("/orasi/services/") == "/orasi/services0");
  CHECK(etcd::prefix_range_end("a\xff") == "b");
  CHECK(etcd::prefix_range_end("\xff\xff") == std::string(1, '\0'));
}

TEST_CASE("request bodies carry base64 keys and string int64s",
          "[etcd][wire]") {
  auto range = json::parse(etcd::range_request("/a/", "/a0", 500, 42));
  CHECK(text(range.at("key")) == b64("/a/"));
  CHECK(text(range.at("range_end")) == b64("/a0"));
  CHECK(text(range.at("limit")) == "500");
  CHECK(text(range.at("revision")) == "42");
  auto latest = json::parse(etcd::range_request("/a/", "/a0"));
  CHECK_FALSE(latest.as_object().contains("revision"));
  CHECK_FALSE(latest.as_object().contains("limit"));

  auto put = json::parse(etcd::put_request("/k", "{\"v\":1}", 77));
  CHECK(text(put.at("value")) == b64("{\"v\":1}"));
  CHECK(text(put.at("lease")) == "77");
  CHECK_FALSE(
      json::parse(etcd::put_request("/k", "v")).as_object().contains("lease"));

  auto watch = json::parse(etcd::watch_create_request("/a/", "/a0", 8));
  CHECK(text(watch.at("create_request").at("start_revision")) == "8");
  CHECK(text(json::parse(etcd::lease_id_request(5)).at("ID")) == "5");
  CHECK(text(json::parse(etcd::lease_grant_request(15)).at("TTL")) == "15");
  auto auth = json::parse(etcd::authenticate_request("root", "p\"w"));
  CHECK(text(auth.at("password")) == "p\"w");
}

TEST_CASE("range responses decode, including pages and empty ranges",
          "[etcd][wire]") {
  auto body = "{" + header + R"(,"kvs":[{"key":")" + b64("/orasi/services/a") +
              R"(","create_revision":"2","mod_revision":"5","version":"2",)"
              R"("value":")" +
              b64(R"({"name":"a"})") +
              R"(","lease":"694d7c3d"}],)"
              R"("more":true,"count":"3"})";
  // Lease IDs are decimal on the wire; a hex-looking one is an error.
  CHECK_FALSE(etcd::decode_range(body));
  body = "{" + header + R"(,"kvs":[{"key":")" + b64("/orasi/services/a") +
         R"(","mod_revision":"5","value":")" + b64(R"({"name":"a"})") +
         R"(","lease":"7587872398023423"}],"more":true,"count":"3"})";
  auto page = etcd::decode_range(body);
  REQUIRE(page);
  CHECK(page->revision == 7);
  CHECK(page->more);
  REQUIRE(page->kvs.size() == 1);
  CHECK(page->kvs[0].key == "/orasi/services/a");
  CHECK(page->kvs[0].value == R"({"name":"a"})");
  CHECK(page->kvs[0].mod_revision == 5);
  CHECK(page->kvs[0].lease == 7587872398023423);

  auto empty = etcd::decode_range("{" + header + "}");
  REQUIRE(empty);
  CHECK(empty->kvs.empty());
  CHECK_FALSE(empty->more);
}

TEST_CASE("garbage responses are errors that name the field", "[etcd][wire]") {
  struct bad_case {
    std::string body;
    std::string field;
  };
  for (const auto& [body, field] : std::vector<bad_case>{
           {"", "not JSON"},
           {"[]", "expected an object"},
           {"{}", "range.header"},
           {"{" + header + R"(,"kvs":{}})", "range.kvs"},
           {"{" + header + R"(,"kvs":[{"key":"%%%"}]})", "range.kvs[0].key"},
           {"{" + header + R"(,"kvs":[{"value":"YQ=="}]})", "range.kvs[0].key"},
           {R"({"header":{"revision":"x"}})", "range.header.revision"},
       }) {
    CAPTURE(body);
    auto page = etcd::decode_range(body);
    REQUIRE_FALSE(page);
    CHECK(page.error().code() == static_cast<uint8_t>(errc::serialization));
    CHECK_THAT(error_message(page.error()), Catch::Contains(field));
  }
}

TEST_CASE("watch messages: created, events, compaction, errors",
          "[etcd][wire]") {
  auto created = etcd::decode_watch_message(R"({"result":{)" + header +
                                            R"(,"created":true}})");
  REQUIRE(created);
  CHECK(created->created);
  CHECK(created->header_revision == 7);

  // A PUT has no "type" (the gateway omits defaults); a DELETE has no value.
  auto events = etcd::decode_watch_message(
      R"({"result":{)" + header + R"(,"events":[{"kv":{"key":")" +
      b64("/orasi/services/a") + R"(","mod_revision":"6","value":")" +
      b64("{}") + R"("}},{"type":"DELETE","kv":{"key":")" +
      b64("/orasi/services/b") + R"(","mod_revision":"7"}}]}})");
  REQUIRE(events);
  REQUIRE(events->events.size() == 2);
  CHECK(events->events[0].type == etcd::event_type::put);
  CHECK(events->events[0].kv.value == "{}");
  CHECK(events->events[1].type == etcd::event_type::remove);
  CHECK(events->events[1].kv.key == "/orasi/services/b");
  CHECK(events->events[1].kv.mod_revision == 7);

  auto compacted = etcd::decode_watch_message(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,)"
      R"("compact_revision":"3"}})");
  REQUIRE(compacted);
  CHECK(compacted->canceled);
  CHECK(compacted->compact_revision == 3);

  auto error = etcd::decode_watch_message(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader",)"
      R"("http_status":"Service Unavailable"}})");
  REQUIRE_FALSE(error);
  CHECK_THAT(error_message(error.error()), Catch::Contains("no leader"));

  CHECK_FALSE(etcd::decode_watch_message(R"({"result":{"events":[{}]}})"));
  CHECK_FALSE(etcd::decode_watch_message(
      R"({"result":{"events":[{"type":"TOUCH","kv":{"key":"YQ=="}}]}})"));
  CHECK_FALSE(etcd::decode_watch_message("{\"result\":"));
}

TEST_CASE("lease, write, auth and gateway error bodies", "[etcd][wire]") {
  auto grant = etcd::decode_lease_grant(
      "{" + header + R"(,"ID":"2324035648380788999","TTL":"15"})");
  REQUIRE(grant);
  CHECK(grant->id == 2324035648380788999);
  CHECK(grant->ttl_seconds == 15);

  // A keepalive for a lost lease answers without TTL: 0 = gone.
  auto alive = etcd::decode_keepalive_ttl(R"({"result":{)" + header +
                                          R"(,"ID":"5","TTL":"9"}})");
  REQUIRE(alive);
  CHECK(*alive == 9);
  auto gone =
      etcd::decode_keepalive_ttl(R"({"result":{)" + header + R"(,"ID":"5"}})");
  REQUIRE(gone);
  CHECK(*gone == 0);

  auto deleted = etcd::decode_write("{" + header + R"(,"deleted":"1"})");
  REQUIRE(deleted);
  CHECK(deleted->deleted == 1);
  CHECK(deleted->revision == 7);

  auto token = etcd::decode_auth_token("{" + header + R"(,"token":"abc.123"})");
  REQUIRE(token);
  CHECK(*token == "abc.123");
  CHECK_FALSE(etcd::decode_auth_token("{" + header + "}"));

  auto err = etcd::decode_gateway_error(
      R"({"error":"etcdserver: requested lease not found","message":)"
      R"("etcdserver: requested lease not found","code":5})");
  REQUIRE(err);
  CHECK(err->code == etcd::grpc_code::not_found);
  CHECK(err->message == "etcdserver: requested lease not found");
  CHECK_FALSE(etcd::decode_gateway_error("{" + header + "}"));
  CHECK_FALSE(etcd::decode_gateway_error("not json"));
}
