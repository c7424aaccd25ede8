#include "actors/probe.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/weak_intrusive_ptr.hpp>

namespace orasi {

probe_actor::behavior_type probe(probe_pointer self, probe_options options) {
  check_spec spec;
  spec.service_id = std::move(options.service_id);
  spec.endpoint_url = std::move(options.endpoint_url);
  spec.probe_id = self->id();
  spec.settings = std::move(options.settings);
  spec.seed = options.seed;
  spec.fast = options.fast;
  spec.sink = std::move(options.sink);
  spec.observer = std::move(options.observer);
  auto& st = self->state;
  st.engine = std::move(options.engine);
  st.schedule = st.engine->add_schedule(std::move(spec));
  // However the probe ends, its schedule ends with it.
  self->attach_functor([engine = st.engine, handle = st.schedule] {
    engine->remove_schedule(handle);
  });
  return {
      [self](retune_atom, bool fast) {
        auto& st = self->state;
        st.engine->set_fast(st.schedule, fast);
      },
  };
}

namespace {

class actor_sink : public outcome_sink {
public:
  explicit actor_sink(const caf::actor& destination)
      : destination_(caf::actor_cast<caf::weak_actor_ptr>(destination)) {}

  void deliver(std::vector<probe_outcome> outcomes) override {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(destination_))
      caf::anon_send(caf::actor_cast<caf::actor>(strong),
                     probe_outcome_batch{std::move(outcomes)});
  }

private:
  caf::weak_actor_ptr destination_;
};

} // namespace

std::shared_ptr<outcome_sink> make_actor_sink(const caf::actor& destination) {
  return std::make_shared<actor_sink>(destination);
}

} // namespace orasi
