// The production prober_port: hands each attempt straight to the Asio
// engine's queue and sends the engine's result to the probe that asked.
#pragma once

#include <memory>

#include "actors/probe.hpp"
#include "probing/http_prober.hpp"

namespace orasi {

/// Every probe holding the port keeps the engine alive.
prober_port_ptr make_http_prober_port(std::shared_ptr<http_prober> engine);

} // namespace orasi
