#include "launcher/default_config.hpp"

namespace orasi {

// The admin API's own endpoint is listed as a service, so the demo always
// contains one endpoint that really exists and turns Healthy under the
// probes; the demo-* endpoints do not exist (unless you start servers on
// those ports) and turn Unhealthy after failure_threshold checks.
const char* const default_launcher_config = R"json({
  "service_discovery": {
    "backend": "static",
    "refresh_interval": "30s",
    "health_check_interval": "10s",
    "health_check": { "path": "/healthz", "timeout": "2s", "retries": 1,
                      "success_threshold": 2, "failure_threshold": 3,
                      "fast_interval": "1s", "jitter_percent": 10 },
    "services": {
      "orasi-admin-1": {
        "name": "orasi-admin",
        "endpoints": [
          { "url": "http://127.0.0.1:9650", "weight": 1,
            "health_status": "Unknown", "metadata": {} } ],
        "health_status": "Unknown",
        "metadata": { "description": "this launcher's own admin API" } },
      "demo-web-1": {
        "name": "demo-web",
        "endpoints": [
          { "url": "http://127.0.0.1:18081", "weight": 2,
            "health_status": "Healthy", "metadata": { "zone": "a" } },
          { "url": "http://127.0.0.1:18082", "weight": 1,
            "health_status": "Unhealthy", "metadata": { "zone": "b" } } ],
        "health_status": "Unknown",
        "metadata": { "team": "web", "version": "1.4.2" } },
      "demo-cache-1": {
        "name": "demo-cache",
        "endpoints": [
          { "url": "http://127.0.0.1:18091", "weight": 1,
            "health_status": "Unknown", "metadata": {} } ],
        "health_status": "Unknown",
        "metadata": { "team": "platform" } }
    }
  },
  "admin": { "listen": "127.0.0.1:9650" },
  "logging": { "level": "info" }
})json";

} // namespace orasi
