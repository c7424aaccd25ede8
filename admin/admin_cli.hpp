// The launcher's client commands: they talk to a running launcher's admin
// API and print human tables (or JSON with --json).
//   orasi-discovery services [--healthy] [--json]
//   orasi-discovery register --id ID --file FILE
//   orasi-discovery deregister ID
//   orasi-discovery watch [--json]
// Common options: --admin HOST:PORT (default $ORASI_ADMIN or
// 127.0.0.1:9650), --token TOKEN (default $ORASI_ADMIN_TOKEN).
// Exit codes scripts can use: 0 done, 1 refused by the server (401, 400,
// 5xx), 2 usage, 3 admin API unreachable, 4 not found.
#pragma once

#include <string>

namespace orasi::cli {

constexpr int exit_done = 0;
constexpr int exit_refused = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;
constexpr int exit_not_found = 4;

/// Whether `command` (argv[1]) is a client command.
bool is_command(const std::string& command);

/// Runs the client command in argv[1] with the rest of argv.
int run(int argc, char** argv);

} // namespace orasi::cli
