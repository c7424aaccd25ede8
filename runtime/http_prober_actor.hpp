// The production prober_actor: hands each attempt to the Asio engine and
// sends the engine's result straight to the probe that asked.
#pragma once

#include <memory>

#include "actors/probe.hpp"
#include "runtime/http_prober.hpp"

namespace orasi {

/// Spawn with `sys.spawn(http_prober_actor, engine)`. The engine lives as
/// long as this actor does.
prober_actor::behavior_type
http_prober_actor(prober_actor::pointer self,
                  std::shared_ptr<http_prober> engine);

} // namespace orasi
