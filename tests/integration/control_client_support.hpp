// Helpers for the control-plane client's tests: a request to the scripted
// server, and waiting for its response with a generous bound (the tests
// run under sanitizers and ctest -j2).
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "net/control_client.hpp"
#include "tests/support/http_test_server.hpp"

namespace orasi::test {

inline net::http_request request_to(const http_test_server& server,
                                    std::string target = "/",
                                    std::string method = "GET") {
  net::http_request request;
  request.method = std::move(method);
  request.host = server.host();
  request.port = server.port();
  request.target = std::move(target);
  return request;
}

/// A response that arrives on the client's loop, waited for here.
class awaited_response {
public:
  net::response_handler handler() {
    return [promise = promise_](net::http_response response) {
      promise->set_value(std::move(response));
    };
  }

  /// Whether the response arrived within `bound`.
  bool arrives(std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    return future_.wait_for(bound) == std::future_status::ready;
  }

  net::http_response get() {
    REQUIRE(arrives());
    return future_.get();
  }

private:
  std::shared_ptr<std::promise<net::http_response>> promise_ =
      std::make_shared<std::promise<net::http_response>>();
  std::future<net::http_response> future_ = promise_->get_future();
};

/// Sends `request` and waits for its response.
inline net::http_response fetch(net::control_client& client,
                                net::http_request request) {
  awaited_response response;
  client.request(std::move(request), response.handler());
  return response.get();
}

} // namespace orasi::test

namespace Catch {

template <>
struct StringMaker<orasi::net::request_failure> {
  static std::string convert(orasi::net::request_failure x) {
    return orasi::net::to_string(x);
  }
};

} // namespace Catch
