// The probe actor: one per endpoint, spawned and stopped by the supervisor
// as endpoints come and go. It registers its endpoint's check schedule with
// the probe engine when it starts and removes it when it stops; the checks
// themselves (timer, attempts, retries, deadline) run in the engine's event
// loop, whose outcomes reach the supervisor in batches. The supervisor,
// which applies the thresholds, retunes the probe between the fast and the
// normal interval.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/actor_messages.hpp"
#include "messages/probe_settings.hpp"
#include "probing/check_port.hpp"

namespace orasi {

using probe_actor = caf::typed_actor<
    // Check at the fast interval (true: the endpoint is Unknown or its last
    // checks disagree with its state) or at the normal one.
    caf::reacts_to<retune_atom, bool>>;

struct probe_options {
  std::string service_id;
  std::string endpoint_url;
  std::shared_ptr<const probe_settings> settings;
  check_port_ptr engine;
  std::shared_ptr<outcome_sink> sink;       // where outcomes go
  std::shared_ptr<check_observer> observer; // may be null
  uint64_t seed = 0;                        // jitter and initial offset
  bool fast = true;                         // start at the fast interval
};

/// What a probe keeps while it lives: its schedule in the engine. The rest of
/// its options went into the schedule when it started; a probe per endpoint
/// holds nothing twice.
struct probe_state {
  check_port_ptr engine;
  uint64_t schedule = 0; // the engine's handle
  static inline const char* name = "orasi.probe";
};

using probe_pointer = probe_actor::stateful_pointer<probe_state>;

probe_actor::behavior_type probe(probe_pointer self, probe_options options);

/// Delivers outcome batches to an actor as probe_outcome_batch messages.
/// Holds the actor weakly: the engine that holds the sink must not keep the
/// supervisor (which holds the engine) alive.
std::shared_ptr<outcome_sink> make_actor_sink(const caf::actor& destination);

} // namespace orasi
