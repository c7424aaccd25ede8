#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "backends/loopback_guard.hpp"

// spdlog's registry is a function-local static inside libspdlog.so; created
// here, before any thread, instead of by whichever thread logs first. (Its
// initialisation guard runs in that uninstrumented library, so under
// ThreadSanitizer a lazy creation reads as a race with every later log call.)
static const bool spdlog_created_first = (spdlog::default_logger(), true);

// Every test runs under the loopback guard: the prober and the backend
// clients refuse any address off loopback and any name lookup but
// "localhost", and the processes a test starts (the launcher) inherit the
// setting. A run that counted a refusal fails, whatever its assertions said.
int main(int argc, char* argv[]) {
  setenv("ORASI_LOOPBACK_ONLY", "1", 1);
  // A peer that closes a TLS connection must fail a call, not kill the
  // binary (OpenSSL's writes raise SIGPIPE), as in the launcher.
  std::signal(SIGPIPE, SIG_IGN);
  int failed = Catch::Session().run(argc, argv);
  if (auto refused = orasi::loopback_guard::refusals(); refused > 0) {
    std::fprintf(stderr,
                 "FAILED: the loopback guard refused %zu connection(s) to "
                 "addresses off loopback; the first: %s\n",
                 refused, orasi::loopback_guard::first_refusal().c_str());
    return failed > 0 ? failed : 1;
  }
  return failed;
}
