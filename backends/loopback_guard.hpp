// The test network guard: with ORASI_LOOPBACK_ONLY=1 in the environment
// (every test binary sets it, and the processes it starts inherit it), the
// probe engine and the backend clients connect only to loopback addresses
// (127.0.0.0/8, ::1) and resolve no name but "localhost" through the
// system, so no test can reach a host off this machine or an outside DNS
// server. A refused connection fails like a local error, is counted and
// logged with `refusal_marker`; the test main fails a run that counted one.
#pragma once

#include <cstddef>
#include <string>

namespace orasi::loopback_guard {

/// Begins every log line of a refusal, so that a test can find refusals in
/// the output of a process it started.
inline constexpr const char* refusal_marker = "loopback guard refused";

/// Whether ORASI_LOOPBACK_ONLY=1 (read once, at the first call).
bool enabled();

/// Whether the guard lets the process connect to this IP literal: always
/// with the guard off; with it on, loopback only (v4-mapped too). A host
/// that is not an IP literal is not allowed.
bool allows_address(const std::string& ip_literal);

/// Whether the guard lets the process look `host` up with the system's
/// resolver: always with the guard off; with it on, IP literals and
/// "localhost" only (any other name could query a DNS server).
bool allows_lookup(const std::string& host);

/// Counts a refusal and logs it (error level) as "<refusal_marker>: <what>".
void refuse(const std::string& what);

/// Refusals counted in this process so far.
size_t refusals();

/// The first refusal's text; empty if none.
std::string first_refusal();

/// Returns the refusals counted so far and starts counting from zero: for
/// the guard's own tests, which provoke refusals on purpose.
size_t take_refusals();

} // namespace orasi::loopback_guard
