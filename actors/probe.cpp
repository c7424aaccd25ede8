#include "actors/probe.hpp"

#include "messages/health_rules.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace orasi {

caf::timespan jittered(caf::timespan base, double jitter, probe_rng& rng) {
  if (jitter <= 0)
    return base;
  std::uniform_real_distribution<double> factor{1.0 - jitter, 1.0 + jitter};
  return caf::timespan{static_cast<caf::timespan::rep>(
      static_cast<double>(base.count()) * factor(rng))};
}

namespace {

const caf::timespan watchdog_grace = std::chrono::seconds(1);

/// The endpoint is Unknown or its last checks disagree with its state: it
/// is checked at the fast interval until the thresholds decide.
bool changing_state(const endpoint_health_tracker& tracker) {
  switch (tracker.state()) {
  case EndpointHealthStatus::Healthy:
    return tracker.consecutive_failures() > 0;
  case EndpointHealthStatus::Unhealthy:
    return tracker.consecutive_passes() > 0;
  case EndpointHealthStatus::Unknown:
    break;
  }
  return true;
}

caf::timespan current_interval(const probe_state& st) {
  const auto& settings = *st.options.settings;
  return changing_state(st.tracker)
             ? std::min(settings.fast_interval, settings.interval)
             : settings.interval;
}

void count(probe_state& st, void (probe_metrics::*counter)()) {
  if (st.options.metrics)
    ((*st.options.metrics).*counter)();
}

void send_attempt(probe_pointer self) {
  auto& st = self->state;
  ++st.attempts_made;
  st.attempt_id = (st.check_number << 8) | st.attempts_made;
  count(st, &probe_metrics::attempt_sent);
  attempt_request request{st.attempt_id, *st.target,
                          st.options.settings->timeout};
  st.options.prober->submit(std::move(request),
                            caf::actor_cast<caf::actor>(self));
}

/// The longest a check can take if the prober answers every attempt, with
/// a grace per attempt for queueing in the engine and the reply's hop. One
/// watchdog per check halves the timers of the common path; an attempt the
/// engine loses (a bug, never a slow endpoint) fails its whole check.
caf::timespan check_budget(const probe_settings& settings) {
  return (settings.timeout + watchdog_grace) * (1 + settings.retries) +
         settings.retry_backoff * settings.retries;
}

/// Ends the current check: reports it (unless it was inconclusive) and
/// schedules the next one, measured from this check's start so that slow
/// checks do not drift the schedule.
void finish_check(probe_pointer self, std::optional<probe_outcome> outcome) {
  auto& st = self->state;
  st.checking = false;
  st.attempt_id = 0;
  if (outcome) {
    if (auto& metrics = st.options.metrics) {
      metrics->check_done(outcome->passed, outcome->degraded);
      // The histogram is the whole check: from its first attempt to this
      // outcome, retries and their backoff included. The probe's last
      // result keeps the deciding attempt's own latency.
      metrics->check_latency(
          std::chrono::duration_cast<std::chrono::microseconds>(
              self->clock().now() - st.check_started));
      auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
          outcome->latency);
      metrics->record_result(
          outcome->service_id, outcome->endpoint_url,
          ProbeResult{outcome->passed, outcome->status_code, latency,
                      outcome->passed ? "passing" : outcome->reason,
                      outcome->degraded, std::chrono::system_clock::now(),
                      outcome->failure});
    }
    st.tracker.record(outcome->passed);
    self->send(st.options.listener, std::move(*outcome));
  }
  auto due =
      st.check_started +
      jittered(current_interval(st), st.options.settings->jitter, st.random);
  auto delay =
      std::max(caf::timespan{0}, caf::timespan{due - self->clock().now()});
  self->delayed_send(self, delay, check_atom::value);
}

probe_outcome make_outcome(const probe_state& st) {
  probe_outcome outcome;
  outcome.service_id = st.options.service_id;
  outcome.endpoint_url = st.options.endpoint_url;
  return outcome;
}

void begin_check(probe_pointer self) {
  auto& st = self->state;
  if (st.checking)
    return;
  st.checking = true;
  ++st.check_number;
  st.attempts_made = 0;
  st.check_started = self->clock().now();
  self->delayed_send(self, check_budget(*st.options.settings),
                     watchdog_atom::value, st.check_number);
  if (!st.target) {
    if (st.options.metrics)
      st.options.metrics->attempt_failed(probe_failure::invalid_url);
    auto outcome = make_outcome(st);
    outcome.failure = probe_failure::invalid_url;
    outcome.reason = "invalid URL: " + st.target_error;
    finish_check(self, std::move(outcome));
    return;
  }
  send_attempt(self);
}

/// Judges one answered (or unanswered) attempt: ends the check on a pass, a
/// timeout or after the last attempt, otherwise retries after a short
/// backoff.
void on_attempt_result(probe_pointer self, attempt_result& result) {
  auto& st = self->state;
  if (!st.checking || result.attempt_id != st.attempt_id)
    return; // late answer to an attempt that was already given up
  st.attempt_id = 0;
  auto outcome = make_outcome(st);
  outcome.status_code = result.status;
  outcome.latency = result.latency;
  outcome.failure = result.failure;
  if (result.failure == probe_failure::none) {
    outcome.passed =
        status_passes(result.status, st.options.settings->expected_statuses,
                      outcome.degraded);
    if (!outcome.passed) {
      outcome.failure = probe_failure::status;
      outcome.reason = "status " + std::to_string(result.status);
    }
  } else {
    outcome.reason =
        result.detail.empty() ? to_string(result.failure) : result.detail;
  }
  if (outcome.passed) {
    count(st, &probe_metrics::attempt_passed);
    finish_check(self, std::move(outcome));
    return;
  }
  if (st.options.metrics)
    st.options.metrics->attempt_failed(outcome.failure);
  // An attempt that timed out ends its check: an endpoint that hangs would
  // hang again, and retrying it would stretch the check to (1 + retries)
  // timeouts, past the interval. Retries are for failures that come back
  // fast (refused, reset, a failing status, garbage).
  if (outcome.failure == probe_failure::timeout) {
    finish_check(self, std::move(outcome));
    return;
  }
  if (st.attempts_made > st.options.settings->retries) {
    // The prober could not even try (e.g. out of file descriptors): that
    // says nothing about the endpoint, so the check counts for nothing.
    if (outcome.failure == probe_failure::local) {
      spdlog::warn("check of {} inconclusive: {}", st.options.endpoint_url,
                   outcome.reason);
      finish_check(self, std::nullopt);
      return;
    }
    finish_check(self, std::move(outcome));
    return;
  }
  self->delayed_send(self, st.options.settings->retry_backoff,
                     retry_atom::value, st.check_number);
}

} // namespace

probe_actor::behavior_type probe(probe_pointer self, probe_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.random = probe_rng{st.options.seed};
  st.tracker = endpoint_health_tracker{st.options.settings->thresholds};
  st.target = make_probe_target(st.options.endpoint_url,
                                st.options.settings->path, st.target_error);
  if (auto metrics = st.options.metrics)
    // Its last result goes with it (a restarted probe records anew).
    self->attach_functor(
        [metrics, id = st.options.service_id, url = st.options.endpoint_url] {
          metrics->forget(id, url);
        });
  if (!st.target)
    spdlog::warn("endpoint {} of {} cannot be probed: {}",
                 st.options.endpoint_url, st.options.service_id,
                 st.target_error);
  // A random first check within one (fast) interval spreads the probes of
  // many endpoints that appear together.
  auto first_window = std::min(st.options.settings->fast_interval,
                               st.options.settings->interval);
  std::uniform_int_distribution<caf::timespan::rep> offset{
      0, std::max<caf::timespan::rep>(0, first_window.count() - 1)};
  self->delayed_send(self, caf::timespan{offset(st.random)}, check_atom::value);
  return {
      [self](check_atom) { begin_check(self); },
      [self](retry_atom, uint64_t check_number) {
        auto& st = self->state;
        if (st.checking && check_number == st.check_number)
          send_attempt(self);
      },
      [self](attempt_result& result) { on_attempt_result(self, result); },
      [self](watchdog_atom, uint64_t check_number) {
        auto& st = self->state;
        if (!st.checking || check_number != st.check_number)
          return; // that check ended normally
        // The prober lost an attempt: the check's time is up, it failed.
        auto outcome = make_outcome(st);
        outcome.failure = probe_failure::timeout;
        outcome.reason = "the prober did not answer";
        outcome.latency = st.options.settings->timeout;
        if (st.options.metrics)
          st.options.metrics->attempt_failed(probe_failure::timeout);
        finish_check(self, std::move(outcome));
      },
  };
}

} // namespace orasi
