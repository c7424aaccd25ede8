#include "backends/static_source.hpp"

#include <fstream>
#include <sstream>

#include <sys/stat.h>

#include <boost/json.hpp>

#include "messages/errors.hpp"
#include "messages/json_codec.hpp"

namespace json = boost::json;

namespace orasi::backends {

namespace {

/// "service_discovery.services" of a parsed config document. The config
/// layer (runtime/config/gateway_config) reads the whole document itself; this
/// is the static source's own loader, for a source used without it.
caf::expected<ServiceMap>
static_services_from_config(const json::value& config_root) {
  if (!config_root.is_object())
    return make_error(errc::config_invalid, "config: expected a JSON object");
  auto discovery = config_root.get_object().if_contains("service_discovery");
  if (discovery == nullptr)
    return ServiceMap{};
  if (!discovery->is_object())
    return make_error(errc::config_invalid,
                      "service_discovery: expected an object");
  auto services = discovery->get_object().if_contains("services");
  if (services == nullptr)
    return ServiceMap{};
  auto result = decode_services(*services, "service_discovery.services",
                                unknown_fields::reject);
  if (!result)
    return make_error(errc::config_invalid, error_message(result.error()));
  return result;
}

} // namespace

caf::expected<ServiceMap> load_static_services(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::config_invalid, path + ": cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  json::error_code ec;
  auto root = json::parse(buffer.str(), ec);
  if (ec)
    return make_error(errc::config_invalid,
                      path + ": malformed JSON: " + ec.message());
  auto services = static_services_from_config(root);
  if (!services)
    return make_error(errc::config_invalid,
                      path + ": " + error_message(services.error()));
  return services;
}

bool static_source::file_stamp::operator==(const file_stamp& other) const {
  return mtime.tv_sec == other.mtime.tv_sec &&
         mtime.tv_nsec == other.mtime.tv_nsec && size == other.size;
}

static_source::static_source(static_source_options options)
    : options_(std::move(options)),
      file_services_(std::move(options_.initial_services)),
      loaded_stamp_(stamp_of_file()) {
  // The initial services come from a config that the caller has already
  // loaded; the file's current stamp stands for that content.
}

static_source::file_stamp static_source::stamp_of_file() const {
  file_stamp stamp;
  struct stat info {};
  if (!options_.file_path.empty() &&
      ::stat(options_.file_path.c_str(), &info) == 0) {
    stamp.mtime = info.st_mtim;
    stamp.size = info.st_size;
  }
  return stamp;
}

source_listing static_source::current_listing() const {
  source_listing listing;
  listing.revision = revision_;
  for (const auto& [id, service] : file_services_)
    if (removed_.count(id) == 0)
      listing.services.emplace(id, service);
  for (const auto& [id, service] : api_services_)
    listing.services[id] = service;
  return listing;
}

caf::expected<source_listing> static_source::list() {
  // The last valid file content: a broken file on disk must not make a
  // resync (e.g. after a registry restart) come back empty.
  return current_listing();
}

caf::expected<std::optional<source_update>> static_source::poll() {
  if (options_.file_path.empty() || stamp_of_file() == loaded_stamp_)
    return std::optional<source_update>{};
  auto listing = reload();
  if (!listing)
    return std::move(listing.error());
  source_update update;
  update.listing = std::move(*listing);
  return std::optional<source_update>{std::move(update)};
}

caf::expected<source_listing> static_source::reload() {
  if (options_.file_path.empty())
    return current_listing();
  // Remember the stamp even when the content is bad, so that a broken file
  // is reported once per change rather than on every poll.
  loaded_stamp_ = stamp_of_file();
  auto services = options_.load_services(options_.file_path);
  if (!services)
    return std::move(services.error());
  // Deregistrations of file services hold until the file itself changes.
  if (*services != file_services_) {
    file_services_ = std::move(*services);
    removed_.clear();
    ++revision_;
  }
  return current_listing();
}

caf::error static_source::put(const std::string& id, const ServiceInfo& info) {
  api_services_[id] = info;
  ++revision_;
  return caf::none;
}

caf::error static_source::remove(const std::string& id) {
  auto in_api = api_services_.erase(id) > 0;
  auto in_file = file_services_.count(id) > 0 && removed_.count(id) == 0;
  if (!in_api && !in_file)
    return make_error(errc::not_found, "service \"" + id + "\" not found");
  if (in_file)
    removed_.insert(id);
  ++revision_;
  return caf::none;
}

} // namespace orasi::backends
