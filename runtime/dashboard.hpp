// The admin API's web dashboard: GET / answers the page, which loads its
// stylesheet and script from the same server (nothing external). The files
// live in admin/dashboard/ and are embedded into the binary at build time
// (cmake/embed_files.cmake). The page lists the services, their endpoints
// and health, kept live through GET /v1/watch, with filters by name and by
// state.
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
