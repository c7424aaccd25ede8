// One place that registers every message type and our error category.
#pragma once

namespace caf {
class actor_system_config;
} // namespace caf

namespace orasi {

/// Registers orasi's message types and error category with `cfg`. A host that
/// embeds orasi-discovery calls this on its config before creating its
/// actor_system, so that our messages and errors print and serialize by name.
void add_message_types(caf::actor_system_config& cfg);

} // namespace orasi
