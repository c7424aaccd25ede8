#include "messages/probe_messages.hpp"
#include "messages/probe_settings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace orasi {

const char* to_string(probe_failure x) {
  switch (x) {
  case probe_failure::none:
    return "none";
  case probe_failure::timeout:
    return "timeout";
  case probe_failure::refused:
    return "refused";
  case probe_failure::status:
    return "status";
  case probe_failure::body_too_large:
    return "body_too_large";
  case probe_failure::protocol_error:
    return "protocol_error";
  case probe_failure::connection:
    return "connection";
  case probe_failure::resolve:
    return "resolve";
  case probe_failure::tls:
    return "tls";
  case probe_failure::invalid_url:
    return "invalid_url";
  case probe_failure::local:
    return "local";
  }
  return "?";
}

const char* to_string(check_verdict x) {
  switch (x) {
  case check_verdict::passed:
    return "passed";
  case check_verdict::degraded:
    return "degraded";
  case check_verdict::failed:
    return "failed";
  }
  return "?";
}

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool parse_port(const std::string& text, uint16_t& port) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(),
                   [](unsigned char c) { return std::isdigit(c); }))
    return false;
  auto value = std::strtoul(text.c_str(), nullptr, 10);
  if (value == 0 || value > 65535)
    return false;
  port = static_cast<uint16_t>(value);
  return true;
}

/// Splits "host", "host:port", "[v6]" or "[v6]:port" into `out`.
bool parse_authority(const std::string& authority, probe_target& out,
                     std::string& error) {
  if (authority.find('@') != std::string::npos) {
    error = "credentials in the URL are not supported";
    return false;
  }
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "unterminated IPv6 address";
      return false;
    }
    out.host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "unexpected text after the IPv6 address";
        return false;
      }
      port_text = rest.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    error = "no host";
    return false;
  }
  if (!port_text.empty() && !parse_port(port_text, out.port)) {
    error = "invalid port '" + port_text + "'";
    return false;
  }
  return true;
}

/// The endpoint's path as a prefix, without its trailing slashes.
std::string base_path(const std::string& rest) {
  auto path = rest.substr(0, rest.find_first_of("?#"));
  while (!path.empty() && path.back() == '/')
    path.pop_back();
  return path;
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace

bool has_unsafe_url_chars(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
}

std::optional<probe_target> make_probe_target(const std::string& endpoint_url,
                                              const std::string& path,
                                              std::string& error) {
  if (has_unsafe_url_chars(endpoint_url) || has_unsafe_url_chars(path)) {
    error = "contains a space, a control or a non-ASCII character";
    return std::nullopt;
  }
  auto scheme_end = endpoint_url.find("://");
  if (scheme_end == std::string::npos) {
    error = "no scheme (expected http:// or https://)";
    return std::nullopt;
  }
  auto scheme = lowercase(endpoint_url.substr(0, scheme_end));
  probe_target target;
  if (scheme == "https") {
    target.tls = true;
  } else if (scheme != "http") {
    error = "unsupported scheme '" + scheme + "'";
    return std::nullopt;
  }
  auto authority_begin = scheme_end + 3;
  auto authority_end = endpoint_url.find_first_of("/?#", authority_begin);
  auto authority = endpoint_url.substr(authority_begin,
                                       authority_end == std::string::npos
                                           ? std::string::npos
                                           : authority_end - authority_begin);
  if (!parse_authority(authority, target, error))
    return std::nullopt;
  uint16_t default_port = target.tls ? 443 : 80;
  bool explicit_port = target.port != 0;
  if (!explicit_port)
    target.port = default_port;
  target.host_header = bracketed(target.host);
  if (explicit_port && target.port != default_port)
    target.host_header += ":" + std::to_string(target.port);
  auto prefix = authority_end == std::string::npos
                    ? std::string{}
                    : base_path(endpoint_url.substr(authority_end));
  auto check_path = path.empty() || path.front() != '/' ? "/" + path : path;
  target.path = prefix + check_path;
  return target;
}

std::string to_url(const probe_target& target) {
  return std::string{target.tls ? "https://" : "http://"} +
         bracketed(target.host) + ":" + std::to_string(target.port) +
         target.path;
}

caf::timespan jittered(caf::timespan base, double jitter, probe_rng& rng) {
  if (jitter <= 0)
    return base;
  std::uniform_real_distribution<double> factor{1.0 - jitter, 1.0 + jitter};
  return caf::timespan{static_cast<caf::timespan::rep>(
      static_cast<double>(base.count()) * factor(rng))};
}

bool changing_state(const endpoint_health_tracker& tracker) {
  switch (tracker.state()) {
  case EndpointHealthStatus::Healthy:
    return tracker.consecutive_failures() > 0;
  case EndpointHealthStatus::Unhealthy:
    return tracker.consecutive_passes() > 0;
  case EndpointHealthStatus::Unknown:
    break;
  }
  return true;
}

} // namespace orasi
