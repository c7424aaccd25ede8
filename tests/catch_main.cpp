#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

// spdlog's registry is a function-local static inside libspdlog.so; created
// here, before any thread, instead of by whichever thread logs first. (Its
// initialisation guard runs in that uninstrumented library, so under
// ThreadSanitizer a lazy creation reads as a race with every later log call.)
static const bool spdlog_created_first = (spdlog::default_logger(), true);
