// The admin API's web dashboard: GET / answers the page, which loads its
// stylesheet and script from the same server (nothing external). The files
// live in admin/dashboard/ and are embedded into the binary at build time
// (cmake/embed_files.cmake). The page shows a summary of the fleet, the
// services (unhealthy first, paged, searchable) with each endpoint's recent
// checks, and the recent transitions; it stays live through GET /v1/watch.
#pragma once

namespace httplib {
class Server;
} // namespace httplib

namespace orasi {

/// Registers the dashboard's routes on `http`: GET / (the page),
/// /dashboard.css, /dashboard.js and /favicon.svg, each with a
/// Content-Security-Policy that allows only same-origin files and requests
/// (no inline script or style).
void add_dashboard_routes(httplib::Server& http);

} // namespace orasi
