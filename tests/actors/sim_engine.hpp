// The probe engine of the actor tests: the production check_scheduler,
// driven by CAF's simulated clock instead of the engine's Asio loop. An
// actor hosts its timer and receives the attempts' answers; the attempts go
// to a scripted prober actor. Everything runs on the test coordinator's one
// thread, so the port calls the scheduler directly.
#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include "messages/actor_messages.hpp"
#include "probing/check_scheduler.hpp"

namespace orasi::test {

/// An actor that plays the prober: it receives (attempt_request, reply_to)
/// and answers with an attempt_result to reply_to.
using prober_actor =
    caf::typed_actor<caf::reacts_to<attempt_request, caf::actor>>;

class sim_engine : public check_port {
public:
  sim_engine(caf::actor_system& sys, prober_actor prober);
  ~sim_engine() override;

  uint64_t add_schedule(check_spec spec) override;
  void set_fast(uint64_t handle, bool fast) override;
  void remove_schedule(uint64_t handle) override;

  /// set_fast() on every schedule, as the supervisor would one by one.
  void set_all_fast(bool fast);

  /// Ends the host actor (its pending timer would keep the system busy).
  void stop();

  check_scheduler& scheduler() { return scheduler_; }

  /// The host actor's work: due checks, then outcomes out, timer re-armed.
  void on_tick();
  void on_result(attempt_result result);

private:
  void settle();

  caf::actor_system& sys_;
  prober_actor prober_;
  caf::actor host_;
  check_scheduler scheduler_;
  uint64_t last_handle_ = 0;
  std::optional<caf::actor_clock::time_point> armed_;
};

} // namespace orasi::test
