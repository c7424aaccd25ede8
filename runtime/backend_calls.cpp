#include "runtime/backend_calls.hpp"

#include "messages/json_codec.hpp"
#include "runtime/config/gateway_error.hpp"

namespace orasi::detail {

namespace {

void throw_if(const caf::error& err) {
  if (err)
    throw GatewayError::from(err);
}

} // namespace

ServiceMap discover_or_throw(backends::discovery_source& source) {
  auto listing = source.list();
  if (!listing)
    throw GatewayError::from(listing.error());
  return std::move(listing->services);
}

void register_or_throw(backends::discovery_source& source,
                       const std::string& id, const ServiceInfo& info) {
  throw_if(validate_service(id, info, "service " + id));
  throw_if(source.put(id, info));
}

void deregister_or_throw(backends::discovery_source& source,
                         const std::string& id) {
  throw_if(source.remove(id));
}

} // namespace orasi::detail
