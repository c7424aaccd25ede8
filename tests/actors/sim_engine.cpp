#include "sim_engine.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace orasi::test {

namespace {

caf::behavior engine_host(caf::event_based_actor*, sim_engine* engine) {
  return {
      [engine](tick_atom) { engine->on_tick(); },
      [engine](attempt_result& result) {
        engine->on_result(std::move(result));
      },
  };
}

} // namespace

sim_engine::sim_engine(caf::actor_system& sys, prober_actor prober)
    : sys_(sys),
      prober_(std::move(prober)),
      host_(sys.spawn(engine_host, this)),
      scheduler_([this](attempt_request request) {
        caf::anon_send(prober_, std::move(request), host_);
      }) {}

sim_engine::~sim_engine() {
  stop();
}

void sim_engine::stop() {
  if (host_)
    caf::anon_send_exit(host_, caf::exit_reason::user_shutdown);
}

uint64_t sim_engine::add_schedule(check_spec spec) {
  auto handle = ++last_handle_;
  scheduler_.add(handle, std::move(spec), sys_.clock().now());
  settle();
  return handle;
}

void sim_engine::set_fast(uint64_t handle, bool fast) {
  scheduler_.set_fast(handle, fast, sys_.clock().now());
  settle();
}

void sim_engine::set_all_fast(bool fast) {
  for (uint64_t handle = 1; handle <= last_handle_; ++handle)
    scheduler_.set_fast(handle, fast, sys_.clock().now());
  settle();
}

void sim_engine::remove_schedule(uint64_t handle) {
  scheduler_.remove(handle);
  settle();
}

void sim_engine::on_tick() {
  auto now = sys_.clock().now();
  if (armed_ && now >= *armed_)
    armed_.reset();
  scheduler_.run_due(now);
  settle();
}

void sim_engine::on_result(attempt_result result) {
  scheduler_.on_attempt_result(std::move(result), sys_.clock().now());
  settle();
}

/// Delivers the outcomes gathered so far and keeps a timer armed for the
/// next due work.
void sim_engine::settle() {
  scheduler_.flush();
  auto due = scheduler_.next_due();
  if (!due || (armed_ && *armed_ <= *due))
    return;
  armed_ = *due;
  auto now = sys_.clock().now();
  if (*due <= now)
    caf::anon_send(host_, tick_atom::value);
  else
    caf::delayed_anon_send(host_, caf::timespan{*due - now}, tick_atom::value);
}

} // namespace orasi::test
