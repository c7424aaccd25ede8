// CAF's inspect() of the domain types of messages/service_info.hpp, apart
// from them: the facade's header includes those types, and its hosts do not
// compile CAF's headers. Included wherever the types travel in messages
// (actor_messages.hpp, and type_registration.cpp through it).
#pragma once

#include <caf/meta/type_name.hpp>

#include "messages/service_info.hpp"

namespace orasi {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ServiceEndpoint& x) {
  return f(caf::meta::type_name("ServiceEndpoint"), x.url, x.weight,
           x.health_status, x.degraded, x.metadata);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ServiceInfo& x) {
  return f(caf::meta::type_name("ServiceInfo"), x.name, x.endpoints,
           x.health_status, x.metadata);
}

} // namespace orasi
