// The launcher's embedded default config: a small demo set, so that a new
// user who runs the launcher without --config sees something real.
#pragma once

namespace orasi {

/// JSON text in the GatewayConfig format (see the README's config reference).
extern const char* const default_launcher_config;

} // namespace orasi
