#include "runtime/http_prober_actor.hpp"

#include <caf/send.hpp>

namespace orasi {

prober_actor::behavior_type
http_prober_actor(prober_actor::pointer, std::shared_ptr<http_prober> engine) {
  return {
      [engine](attempt_request& request, caf::actor& reply_to) {
        // The completion runs on the engine thread; anon_send is the
        // thread-safe way back into the actor world.
        engine->submit(std::move(request), [reply_to](attempt_result result) {
          caf::anon_send(reply_to, std::move(result));
        });
      },
  };
}

} // namespace orasi
