#include "probing/check_scheduler.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "messages/health_rules.hpp"

namespace orasi {

check_scheduler::check_scheduler(attempt_submitter submit)
    : submit_(std::move(submit)) {}

void check_scheduler::add(uint64_t handle, check_spec spec, time_point now) {
  entry e;
  e.service_id = std::move(spec.service_id);
  e.endpoint_url = std::move(spec.endpoint_url);
  e.probe_id = spec.probe_id;
  e.fast = spec.fast;
  e.random = probe_rng{spec.seed};
  std::string error;
  if (auto target =
          make_probe_target(e.endpoint_url, spec.settings->path, error)) {
    e.target = std::move(*target);
    e.target_valid = true;
  } else {
    spdlog::warn("endpoint {} of {} cannot be probed: {}", e.endpoint_url,
                 e.service_id, error);
  }
  const auto& settings = *spec.settings;
  auto first_window = std::min(settings.fast_interval, settings.interval);
  std::uniform_int_distribution<caf::timespan::rep> offset{
      0, std::max<caf::timespan::rep>(0, first_window.count() - 1)};
  auto first = now + caf::timespan{offset(e.random)};
  e.context = acquire_context(spec);
  entry_map::iterator at;
  bool added = false;
  try {
    std::tie(at, added) = entries_.try_emplace(handle);
  } catch (...) {
    release_context(e.context);
    throw;
  }
  if (!added) {
    // A handle used again replaces its schedule (callers choose unique
    // ones): the old timer and attempt go with it.
    timers_.disarm(*at);
    if (at->second.attempt_id != 0)
      in_flight_.erase(at->second.attempt_id);
    release_context(at->second.context);
  }
  at->second = std::move(e);
  arm(*at, wait_kind::check, first);
}

void check_scheduler::set_fast(uint64_t handle, bool fast, time_point now) {
  auto i = entries_.find(handle);
  if (i == entries_.end() || i->second.fast == fast)
    return;
  auto& e = i->second;
  e.fast = fast;
  // The verdict that moved the endpoint came after its next check was
  // planned at the other interval: plan that check anew.
  if (!e.checking && e.waiting == wait_kind::check &&
      e.check_started != time_point{}) {
    auto due = e.check_started +
               jittered(current_interval(e), settings_of(e).jitter, e.random);
    arm(*i, wait_kind::check, std::max(due, now));
  }
}

void check_scheduler::remove(uint64_t handle) {
  auto i = entries_.find(handle);
  if (i == entries_.end())
    return;
  auto& e = i->second;
  timers_.disarm(*i);
  if (e.attempt_id != 0)
    in_flight_.erase(e.attempt_id);
  if (auto& observer = context_of(e).observer)
    observer->on_removed(e.service_id, e.endpoint_url);
  release_context(e.context);
  entries_.erase(i);
}

uint32_t check_scheduler::acquire_context(check_spec& spec) {
  auto key = std::make_tuple(static_cast<const void*>(spec.settings.get()),
                             static_cast<const void*>(spec.sink.get()),
                             static_cast<const void*>(spec.observer.get()));
  auto [at, added] = context_index_.try_emplace(key, 0);
  if (added) {
    try {
      if (free_contexts_.empty()) {
        // Room for every slot in the free list: release_context() must not
        // fail.
        free_contexts_.reserve(contexts_.size() + 1);
        contexts_.emplace_back();
        at->second = static_cast<uint32_t>(contexts_.size() - 1);
      } else {
        at->second = free_contexts_.back();
        free_contexts_.pop_back();
      }
    } catch (...) {
      context_index_.erase(at);
      throw;
    }
    auto& context = contexts_[at->second];
    context.settings = std::move(spec.settings);
    context.sink = std::move(spec.sink);
    context.observer = std::move(spec.observer);
  }
  ++contexts_[at->second].users;
  return at->second;
}

void check_scheduler::release_context(uint32_t index) {
  auto& context = contexts_[index];
  if (--context.users > 0)
    return;
  context_index_.erase(
      std::make_tuple(static_cast<const void*>(context.settings.get()),
                      static_cast<const void*>(context.sink.get()),
                      static_cast<const void*>(context.observer.get())));
  context = shared_context{};
  free_contexts_.push_back(index); // has room: see acquire_context()
}

void check_scheduler::arm(node& n, wait_kind what, time_point due) {
  n.second.waiting = what;
  timers_.arm(n, due);
}

std::optional<check_scheduler::time_point> check_scheduler::next_due() const {
  if (timers_.empty())
    return std::nullopt;
  return timers_.top_due();
}

void check_scheduler::run_due(time_point now) {
  while (!timers_.empty() && timers_.top_due() <= now) {
    auto& n = timers_.top();
    auto& e = n.second;
    auto kind = e.waiting;
    // Fired. Should what follows throw before it arms the next step, the
    // schedule must still go on: a check one interval from now.
    arm(n, wait_kind::check, now + settings_of(e).interval);
    switch (kind) {
    case wait_kind::check:
      begin_check(n, now);
      break;
    case wait_kind::retry:
      send_attempt(n, now);
      break;
    case wait_kind::lost_attempt: {
      in_flight_.erase(e.attempt_id);
      attempt_result lost;
      lost.attempt_id = e.attempt_id;
      lost.failure = probe_failure::timeout;
      lost.detail = "the prober did not answer";
      lost.latency = settings_of(e).timeout;
      judge(n, lost, now);
      break;
    }
    }
  }
}

void check_scheduler::on_attempt_result(attempt_result result, time_point now) {
  auto sent = in_flight_.find(result.attempt_id);
  if (sent == in_flight_.end())
    return; // late: its check or its schedule is gone
  auto handle = sent->second;
  in_flight_.erase(sent);
  auto i = entries_.find(handle);
  if (i == entries_.end() || !i->second.checking ||
      i->second.attempt_id != result.attempt_id)
    return;
  judge(*i, result, now);
}

void check_scheduler::begin_check(node& n, time_point now) {
  auto& e = n.second;
  e.checking = true;
  e.attempts_made = 0;
  e.check_started = now;
  if (!e.target_valid) {
    if (auto& observer = context_of(e).observer)
      observer->on_attempt_done(probe_failure::invalid_url);
    std::string error;
    make_probe_target(e.endpoint_url, settings_of(e).path, error);
    auto outcome = make_outcome(e);
    outcome.failure = probe_failure::invalid_url;
    outcome.reason = "invalid URL: " + error;
    finish_check(n, std::move(outcome), now);
    return;
  }
  send_attempt(n, now);
}

void check_scheduler::send_attempt(node& n, time_point now) {
  auto& e = n.second;
  ++e.attempts_made;
  e.attempt_id = ++next_attempt_id_;
  in_flight_.emplace(e.attempt_id, n.first);
  if (auto& observer = context_of(e).observer)
    observer->on_attempt_sent();
  const auto& settings = settings_of(e);
  arm(n, wait_kind::lost_attempt, now + settings.timeout + lost_attempt_grace);
  // Last: the submitter may answer at once, re-entering on_attempt_result.
  submit_(attempt_request{e.attempt_id, e.target, settings.timeout});
}

/// Judges one answered (or lost) attempt: ends the check on a pass, a
/// timeout or after the last attempt, otherwise retries after a short
/// backoff.
void check_scheduler::judge(node& n, const attempt_result& result,
                            time_point now) {
  auto& e = n.second;
  e.attempt_id = 0;
  const auto& settings = settings_of(e);
  auto outcome = make_outcome(e);
  outcome.status_code = result.status;
  outcome.latency = result.latency;
  outcome.failure = result.failure;
  if (result.failure == probe_failure::none) {
    outcome.passed = status_passes(result.status, settings.expected_statuses,
                                   outcome.degraded);
    if (!outcome.passed) {
      outcome.failure = probe_failure::status;
      outcome.reason = "status " + std::to_string(result.status);
    }
  } else {
    outcome.reason =
        result.detail.empty() ? to_string(result.failure) : result.detail;
  }
  if (auto& observer = context_of(e).observer)
    observer->on_attempt_done(outcome.failure);
  // A pass ends the check. So does a timeout: an endpoint that hangs would
  // hang again, and retrying it would stretch the check to (1 + retries)
  // timeouts, past the interval. Retries are for failures that come back
  // fast (refused, reset, a failing status, garbage).
  if (outcome.passed || outcome.failure == probe_failure::timeout)
    return finish_check(n, std::move(outcome), now);
  if (e.attempts_made > settings.retries) {
    // The prober could not even try (e.g. out of file descriptors): that
    // says nothing about the endpoint, so the check counts for nothing.
    if (outcome.failure == probe_failure::local) {
      spdlog::warn("check of {} inconclusive: {}", e.endpoint_url,
                   outcome.reason);
      return finish_check(n, std::nullopt, now);
    }
    return finish_check(n, std::move(outcome), now);
  }
  arm(n, wait_kind::retry, now + settings.retry_backoff);
}

void check_scheduler::finish_check(node& n,
                                   std::optional<probe_outcome> outcome,
                                   time_point now) {
  auto& e = n.second;
  e.checking = false;
  e.attempt_id = 0;
  const auto& context = context_of(e);
  if (outcome) {
    if (context.observer)
      // The whole check: from its first attempt to this outcome, retries
      // and their backoff included.
      context.observer->on_check_done(
          *outcome, std::chrono::duration_cast<std::chrono::microseconds>(
                        now - e.check_started));
    auto& [sink, batch] = pending_[context.sink.get()];
    if (!sink)
      sink = context.sink;
    batch.push_back(std::move(*outcome));
    ++pending_count_;
  }
  auto due = e.check_started +
             jittered(current_interval(e), context.settings->jitter, e.random);
  arm(n, wait_kind::check, std::max(due, now));
}

caf::timespan check_scheduler::current_interval(const entry& e) const {
  const auto& settings = settings_of(e);
  return e.fast ? std::min(settings.fast_interval, settings.interval)
                : settings.interval;
}

probe_outcome check_scheduler::make_outcome(const entry& e) const {
  probe_outcome outcome;
  outcome.service_id = e.service_id;
  outcome.endpoint_url = e.endpoint_url;
  outcome.probe_id = e.probe_id;
  return outcome;
}

void check_scheduler::flush() {
  if (pending_count_ == 0)
    return;
  auto pending = std::move(pending_);
  pending_.clear();
  pending_count_ = 0;
  for (auto& [key, delivery] : pending)
    if (delivery.first)
      delivery.first->deliver(std::move(delivery.second));
}

} // namespace orasi
