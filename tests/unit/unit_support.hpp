// Helpers shared by the unit tests: readable Catch2 output for the domain
// types, small builders, and a temp file that cleans up after itself.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "messages/json_codec.hpp"
#include "messages/service_info.hpp"

namespace Catch {

template <>
struct StringMaker<orasi::EndpointHealthStatus> {
  static std::string convert(orasi::EndpointHealthStatus x) {
    return orasi::to_string(x);
  }
};

template <>
struct StringMaker<orasi::ServiceHealthStatus> {
  static std::string convert(orasi::ServiceHealthStatus x) {
    return orasi::to_string(x);
  }
};

template <>
struct StringMaker<std::optional<orasi::EndpointHealthStatus>> {
  static std::string
  convert(const std::optional<orasi::EndpointHealthStatus>& x) {
    return x ? orasi::to_string(*x) : "(no transition)";
  }
};

template <>
struct StringMaker<orasi::ServiceInfo> {
  static std::string convert(const orasi::ServiceInfo& x) {
    return orasi::encode(x);
  }
};

template <>
struct StringMaker<orasi::ServiceMap> {
  static std::string convert(const orasi::ServiceMap& x) {
    return orasi::encode(x);
  }
};

} // namespace Catch

namespace orasi::test {

inline ServiceEndpoint
endpoint(std::string url,
         EndpointHealthStatus status = EndpointHealthStatus::Unknown) {
  ServiceEndpoint result;
  result.url = std::move(url);
  result.health_status = status;
  return result;
}

/// A file in the system temp directory with a unique name, removed when the
/// object goes out of scope.
class temp_file {
public:
  explicit temp_file(const std::string& content = "") {
    auto pattern =
        (std::filesystem::temp_directory_path() / "orasi-unit-XXXXXX.json")
            .string();
    auto fd = ::mkstemps(pattern.data(), 5);
    if (fd < 0)
      throw std::runtime_error{"mkstemps failed for " + pattern};
    ::close(fd);
    path_ = pattern;
    write(content);
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

  const std::string& path() const { return path_; }

  /// Replaces the content and moves the modification time forward by a
  /// second, so a change is visible even within one timestamp tick.
  void write(const std::string& content) {
    auto before = std::filesystem::exists(path_)
                      ? std::filesystem::last_write_time(path_)
                      : std::filesystem::file_time_type{};
    {
      std::ofstream out{path_, std::ios::binary | std::ios::trunc};
      out << content;
      if (!out)
        throw std::runtime_error{"cannot write " + path_};
    }
    auto after = std::filesystem::last_write_time(path_);
    if (after <= before + std::chrono::seconds(1))
      std::filesystem::last_write_time(path_, before + std::chrono::seconds(2));
  }

private:
  std::string path_;
};

} // namespace orasi::test
