#include "admin/dashboard.hpp"

#include <string_view>

#include <httplib.h>

namespace orasi {

namespace embedded {

/// A file of admin/dashboard/ by its name, empty if there is none; defined
/// by the source that admin/CMakeLists.txt generates at build time.
std::string_view dashboard_file(std::string_view name);

} // namespace embedded

namespace {

/// Only the page's own files and same-origin requests (its fetches to
/// /v1/...); no inline script or style, no frames, forms or plugins.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

struct served_file {
  const char* path;         // the request path
  const char* file;         // in admin/dashboard/
  const char* content_type; // as served
};

constexpr served_file dashboard_files[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/dashboard.css", "dashboard.css", "text/css; charset=utf-8"},
    {"/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"},
    {"/favicon.svg", "favicon.svg", "image/svg+xml"},
};

} // namespace

void add_dashboard_routes(httplib::Server& http) {
  for (const auto& served : dashboard_files) {
    auto body = embedded::dashboard_file(served.file);
    auto content_type = served.content_type;
    http.Get(served.path, [body, content_type](const httplib::Request&,
                                               httplib::Response& res) {
      res.set_header("Content-Security-Policy", content_security_policy);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      // The files change with the binary: never serve a stale copy.
      res.set_header("Cache-Control", "no-store");
      // As the API's bodies (admin_server.cpp, send_body): from a provider
      // of known length, so that cpp-httplib neither copies nor compresses
      // it on every request.
      res.set_content_provider(
          body.size(), content_type,
          [body](size_t offset, size_t length, httplib::DataSink& sink) {
            return sink.write(body.data() + offset, length);
          });
    });
  }
}

} // namespace orasi
