// HealthChecker and AdvancedHealthChecker moved to the probe engine's folder;
// this header keeps the include path of earlier releases working.
#pragma once

#include "probing/health_checker.hpp"
