// The static backend: services listed under "service_discovery.services" in
// the config file, plus registrations made through the API, kept in memory.
#pragma once

#include <ctime>
#include <functional>
#include <set>
#include <string>

#include "backends/discovery_source.hpp"

namespace orasi::backends {

/// Reads `path` and extracts "service_discovery.services" (strict: unknown
/// fields are errors; absent means no services) without reading the rest of
/// the file. Errors name the file and the field at fault.
caf::expected<ServiceMap> load_static_services(const std::string& path);

struct static_source_options {
  /// Services to start with (e.g. from an already loaded config).
  ServiceMap initial_services;
  /// Config file to re-read on change; empty = no file, memory only.
  std::string file_path;
  /// Reads the file's services. Default: load_static_services. The runtime
  /// passes one that validates the whole config, so that a reload applies
  /// only a file the launcher would also start with.
  std::function<caf::expected<ServiceMap>(const std::string&)> load_services =
      load_static_services;
};

/// Effective services = file services, minus file ids deregistered through
/// the API (until the file's content changes), overlaid by services
/// registered through the API. poll() re-reads the file when its mtime or
/// size changed, reload() always. A file replaces the file part only if it
/// is valid as a whole; otherwise the previous services stay.
class static_source : public discovery_source {
public:
  explicit static_source(static_source_options options);

  std::string name() const override { return "static"; }
  caf::expected<source_listing> list() override;
  caf::expected<std::optional<source_update>> poll() override;
  caf::error put(const std::string& id, const ServiceInfo& info) override;
  caf::error remove(const std::string& id) override;

  /// Re-reads the file now, regardless of its modification time.
  caf::expected<source_listing> reload() override;

private:
  struct file_stamp {
    std::timespec mtime{};
    off_t size = -1;
    bool operator==(const file_stamp& other) const;
  };

  file_stamp stamp_of_file() const;
  source_listing current_listing() const;

  static_source_options options_;
  ServiceMap file_services_;      // content of the file at the last good load
  ServiceMap api_services_;       // registered through the API
  std::set<std::string> removed_; // file ids deregistered since last load
  file_stamp loaded_stamp_;       // file stamp of the last load attempt
  uint64_t revision_ = 1;         // bumped on every effective change
};

} // namespace orasi::backends
