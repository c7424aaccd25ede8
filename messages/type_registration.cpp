#include "messages/type_registration.hpp"

#include <caf/actor_system_config.hpp>

#include "messages/actor_messages.hpp"
#include "messages/errors.hpp"

namespace orasi {

const char* to_string(lifecycle_state x) {
  switch (x) {
  case lifecycle_state::stopped:
    return "stopped";
  case lifecycle_state::starting:
    return "starting";
  case lifecycle_state::running:
    return "running";
  case lifecycle_state::stopping:
    return "stopping";
  }
  return "invalid";
}

const char* to_string(child_kind x) {
  switch (x) {
  case child_kind::registry:
    return "registry";
  case child_kind::backend:
    return "backend";
  case child_kind::probes:
    break;
  }
  return "probes";
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<ServiceEndpoint>("orasi.ServiceEndpoint");
  cfg.add_message_type<ServiceInfo>("orasi.ServiceInfo");
  cfg.add_message_type<ServiceMap>("orasi.ServiceMap");
  cfg.add_message_type<ServiceHealthStatus>("orasi.ServiceHealthStatus");
  cfg.add_message_type<EndpointHealthStatus>("orasi.EndpointHealthStatus");
  cfg.add_message_type<lifecycle_state>("orasi.lifecycle_state");
  cfg.add_message_type<child_kind>("orasi.child_kind");
  cfg.add_message_type<backend_snapshot>("orasi.backend_snapshot");
  cfg.add_message_type<backend_delta>("orasi.backend_delta");
  cfg.add_message_type<backend_status>("orasi.backend_status");
  cfg.add_message_type<probe_outcome>("orasi.probe_outcome");
  cfg.add_message_type<std::vector<probe_outcome>>(
      "orasi.probe_outcome_vector");
  cfg.add_message_type<probe_outcome_batch>("orasi.probe_outcome_batch");
  cfg.add_message_type<endpoint_health_changed>(
      "orasi.endpoint_health_changed");
  cfg.add_message_type<probe_failure>("orasi.probe_failure");
  cfg.add_message_type<probe_target>("orasi.probe_target");
  cfg.add_message_type<attempt_request>("orasi.attempt_request");
  cfg.add_message_type<attempt_result>("orasi.attempt_result");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& context) {
    std::string result = "orasi.";
    result += to_string(static_cast<errc>(code));
    if (context.match_elements<std::string>()) {
      result += ": ";
      result += context.get_as<std::string>(0);
    }
    return result;
  });
}

} // namespace orasi
