// The probe response reader (probing/probe_response) over bytes in
// memory, split into reads of every size from 1 byte up, as a socket may
// deliver.
#include <catch2/catch.hpp>

#include <string>

#include "support/probe_response_reading.hpp"

using namespace orasi;
using orasi::testing::read_probe_response;
using step = probe_response_reader::step;

namespace {

constexpr size_t body_limit = 1024;

/// The same reading for every chunk size: 1, 2, 3, 7, 64 and all at once.
template <class Check>
void for_every_split(const std::string& bytes, Check check) {
  for (size_t chunk :
       {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, bytes.size()}) {
    INFO("reads of " << chunk << " bytes");
    check(read_probe_response(bytes, chunk, body_limit));
  }
}

} // namespace

TEST_CASE("probe response: a complete response gives its status, the "
          "connection kept for reuse",
          "[probe_response]") {
  for_every_split("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                  "\r\ndown",
                  [](const auto& read) {
                    CHECK(read.last == step::complete);
                    CHECK(read.result.status == 503);
                    CHECK(read.result.failure == probe_failure::none);
                    CHECK(read.reusable);
                  });
  for_every_split("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "4\r\nwiki\r\n0\r\n\r\n",
                  [](const auto& read) {
                    CHECK(read.result.status == 200);
                    CHECK(read.reusable);
                  });
}

TEST_CASE("probe response: regression, a status outside 100-599 is an "
          "invalid response, not status 0",
          "[probe_response]") {
  // Found by fuzz/fuzz_probe_response (corpus/probe_response/status_000):
  // Beast's parser accepts any three digits.
  for (std::string status : {"000", "099", "600", "999"})
    for_every_split(
        "HTTP/1.1 " + status + " OK\r\nContent-Length: 0\r\n\r\n",
        [&](const auto& read) {
          INFO(status);
          CHECK(read.last == step::failed);
          CHECK(read.result.failure == probe_failure::protocol_error);
          CHECK(read.result.detail == "invalid HTTP response: status " +
                                          std::to_string(std::stoi(status)));
          CHECK_FALSE(read.reusable);
        });
}

TEST_CASE("probe response: interim responses are read past, at most 8",
          "[probe_response]") {
  std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  std::string final = "HTTP/1.1 204 No Content\r\n\r\n";
  for_every_split(interim + "HTTP/1.1 103 Early Hints\r\n\r\n" + final,
                  [](const auto& read) {
                    CHECK(read.result.status == 204);
                    CHECK(read.reads == 3);
                  });
  std::string eight, nine;
  for (int i = 0; i < 8; ++i)
    eight += interim;
  nine = eight + interim;
  for_every_split(eight + final,
                  [](const auto& read) { CHECK(read.result.status == 204); });
  for_every_split(nine + final, [](const auto& read) {
    CHECK(read.last == step::failed);
    CHECK(read.result.detail == "more than 8 interim (1xx) responses");
  });
}

TEST_CASE("probe response: what makes a connection unfit for reuse",
          "[probe_response]") {
  // Bytes after the response would be read as the next response's start.
  // (Only bytes that arrived with it are seen; later ones fail the next
  // check on that connection, whose retry then takes a fresh one.)
  std::string extra = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
  auto with_extra = read_probe_response(extra, extra.size(), body_limit);
  CHECK(with_extra.result.status == 200);
  CHECK_FALSE(with_extra.reusable);
  for_every_split("HTTP/1.1 200 OK\r\nConnection: close\r\n"
                  "Content-Length: 0\r\n\r\n",
                  [](const auto& read) { CHECK_FALSE(read.reusable); });
  for_every_split("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
                  [](const auto& read) {
                    CHECK(read.result.status == 101);
                    CHECK_FALSE(read.reusable);
                  });
  auto without_keep_alive = read_probe_response(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 64, body_limit, false);
  CHECK(without_keep_alive.result.status == 200);
  CHECK_FALSE(without_keep_alive.reusable);
}

TEST_CASE("probe response: garbage, truncation and oversize fail with a "
          "reason",
          "[probe_response]") {
  auto failure = [](const std::string& bytes, probe_failure expected,
                    const std::string& detail) {
    for_every_split(bytes, [&](const auto& read) {
      CHECK(read.last == step::failed);
      CHECK(read.result.failure == expected);
      CHECK(read.result.detail.rfind(detail, 0) == 0);
    });
  };
  failure("", probe_failure::protocol_error,
          "connection closed before responding");
  failure("HTTP/1.1 200 OK\r\nContent-Le", probe_failure::protocol_error,
          "connection closed mid-response");
  failure("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
          probe_failure::protocol_error, "connection closed mid-response");
  failure(std::string("\x00\xffNOT HTTP\r\n\r\n", 14),
          probe_failure::protocol_error, "invalid HTTP response: ");
  failure("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
          probe_failure::body_too_large, "body over 1024 bytes");
  failure("HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
          probe_failure::protocol_error, "invalid HTTP response: ");
}
