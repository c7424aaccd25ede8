// The admin API's web dashboard: GET / answers one self-contained HTML page
// (inline CSS and JS, nothing external) that lists the services, their
// endpoints and health, kept live through GET /v1/watch, with filters by
// name and by state.
#pragma once

namespace httplib {
class Server;
} // namespace httplib

namespace orasi {

/// Registers GET / on `http`: the dashboard page, served as text/html with a
/// Content-Security-Policy that allows only same-origin requests and the
/// page's own inline script and style.
void add_dashboard_route(httplib::Server& http);

} // namespace orasi
