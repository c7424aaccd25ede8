#include "backends/loopback_guard.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

namespace orasi::loopback_guard {

namespace {

std::atomic<size_t> refusal_count{0};
std::mutex first_mutex;
std::string first_text; // guarded by first_mutex

} // namespace

bool enabled() {
  static const bool on = [] {
    const char* value = std::getenv("ORASI_LOOPBACK_ONLY");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return on;
}

bool allows_address(const std::string& ip_literal) {
  if (!enabled())
    return true;
  boost::system::error_code invalid;
  auto address = boost::asio::ip::make_address(ip_literal, invalid);
  if (invalid)
    return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped,
                                            address.to_v6())
        .is_loopback();
  return address.is_loopback();
}

bool allows_lookup(const std::string& host) {
  if (!enabled() || host == "localhost")
    return true;
  boost::system::error_code not_literal;
  boost::asio::ip::make_address(host, not_literal);
  return !not_literal;
}

void refuse(const std::string& what) {
  {
    std::lock_guard<std::mutex> guard{first_mutex};
    if (refusal_count.fetch_add(1) == 0)
      first_text = what;
  }
  // Straight to stderr too: a process that logs nothing (logging.level off)
  // must still show the test that started it what was refused.
  std::fprintf(stderr, "%s: %s\n", refusal_marker, what.c_str());
  spdlog::error("{}: {}", refusal_marker, what);
}

size_t refusals() {
  std::lock_guard<std::mutex> guard{first_mutex};
  return refusal_count.load();
}

size_t take_refusals() {
  std::lock_guard<std::mutex> guard{first_mutex};
  first_text.clear();
  return refusal_count.exchange(0);
}

std::string first_refusal() {
  std::lock_guard<std::mutex> guard{first_mutex};
  return first_text;
}

} // namespace orasi::loopback_guard
