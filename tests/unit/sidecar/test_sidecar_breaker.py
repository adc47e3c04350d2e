"""The circuit breaker: when it opens, how long it stays open, and what it lets through."""

from __future__ import annotations

import random

import pytest

from pulse_sidecar import breaker, config
from pulse_sidecar.breaker import State


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(
    clock: FakeClock, transitions: list[tuple[State, State]] | None = None, **settings: float
) -> breaker.CircuitBreaker:
    defaults: dict[str, float] = {"jitter": 0.0}
    return breaker.CircuitBreaker(
        config.CircuitBreakerConfig.model_validate({**defaults, **settings}),
        clock=clock,
        rng=random.Random(7),
        on_transition=None if transitions is None else lambda a, b: transitions.append((a, b)),
    )


def fail(cb: breaker.CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert cb.allow()
        cb.record_failure()


def test_a_new_breaker_is_closed_and_allows_calls() -> None:
    cb = make(FakeClock())
    assert cb.state is State.CLOSED
    assert cb.allow()
    assert cb.seconds_until_call() == 0


def test_five_consecutive_failures_open_the_circuit_and_four_do_not() -> None:
    cb = make(FakeClock())
    fail(cb, 4)
    assert cb.state is State.CLOSED
    fail(cb, 1)
    assert cb.state is State.OPEN
    assert not cb.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    cb = make(FakeClock(), failure_rate=1.0)
    fail(cb, 4)
    cb.record_success()
    fail(cb, 4)
    assert cb.state is State.CLOSED


def test_a_failure_rate_of_half_opens_the_circuit_once_five_calls_were_made() -> None:
    cb = make(FakeClock())
    for outcome in ["fail", "ok", "fail", "ok"]:
        cb.record_failure() if outcome == "fail" else cb.record_success()
    assert cb.state is State.CLOSED  # 2 of 4 failed, but fewer than 5 calls were made
    cb.record_failure()
    assert cb.state is State.OPEN  # 3 of 5


def test_a_failure_rate_below_the_threshold_keeps_the_circuit_closed() -> None:
    cb = make(FakeClock())
    for _ in range(3):
        cb.record_success()
        cb.record_success()
        cb.record_failure()
    assert cb.state is State.CLOSED  # 3 of 9


def test_the_rate_covers_only_the_last_window_of_calls() -> None:
    cb = make(FakeClock(), failure_threshold=100, window_size=4, min_calls=4, failure_rate=0.75)
    for _ in range(20):
        cb.record_success()
    cb.record_failure()
    cb.record_failure()
    assert cb.state is State.CLOSED  # 2 of the last 4
    cb.record_failure()
    assert cb.state is State.OPEN  # 3 of the last 4, though 3 of 23 overall


def test_the_open_circuit_becomes_half_open_after_the_wait() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 5)
    clock.advance(29.9)
    assert cb.state is State.OPEN
    assert cb.seconds_until_call() == pytest.approx(0.1)
    clock.advance(0.1)
    assert cb.state is State.HALF_OPEN


def test_half_open_allows_exactly_one_trial_call() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 5)
    clock.advance(30)
    assert cb.allow()
    assert not cb.allow()
    assert not cb.allow()


def test_a_successful_trial_closes_the_circuit_and_forgets_the_failures() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 5)
    clock.advance(30)
    assert cb.allow()
    cb.record_success()
    assert cb.state is State.CLOSED
    fail(cb, 4)
    assert cb.state is State.CLOSED


def test_each_failed_trial_doubles_the_wait_up_to_the_maximum() -> None:
    clock = FakeClock()
    cb = make(clock, max_open_seconds=300)
    fail(cb, 5)
    waits = []
    for _ in range(6):
        waits.append(cb.seconds_until_call())
        clock.advance(waits[-1])
        assert cb.allow()
        cb.record_failure()
    assert waits == [30, 60, 120, 240, 300, 300]


def test_after_recovery_the_wait_starts_again_from_the_first_value() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 5)
    clock.advance(30)
    cb.allow()
    cb.record_failure()  # wait is now 60
    clock.advance(60)
    cb.allow()
    cb.record_success()
    fail(cb, 5)
    assert cb.seconds_until_call() == 30


def test_jitter_spreads_the_wait_within_the_configured_fraction() -> None:
    waits = []
    for seed in range(200):
        clock = FakeClock()
        cb = breaker.CircuitBreaker(
            config.CircuitBreakerConfig(), clock=clock, rng=random.Random(seed)
        )
        fail(cb, 5)
        waits.append(cb.seconds_until_call())
    assert min(waits) >= 24
    assert max(waits) <= 36
    assert max(waits) - min(waits) > 6  # actually spread, not constant


def test_retry_after_longer_than_the_wait_delays_the_trial() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 4)
    assert cb.allow()
    cb.record_failure(retry_after=120)
    assert cb.state is State.OPEN
    clock.advance(119)
    assert not cb.allow()
    clock.advance(1)
    assert cb.allow()


def test_retry_after_holds_calls_even_while_closed() -> None:
    clock = FakeClock()
    cb = make(clock)
    cb.record_failure(retry_after=10)
    assert cb.state is State.CLOSED
    assert not cb.allow()
    assert cb.seconds_until_call() == 10
    clock.advance(10)
    assert cb.allow()


def test_transitions_are_reported_in_order() -> None:
    clock = FakeClock()
    seen: list[tuple[State, State]] = []
    cb = make(clock, seen)
    fail(cb, 5)
    clock.advance(30)
    cb.allow()
    cb.record_failure()
    clock.advance(60)
    cb.allow()
    cb.record_success()
    assert seen == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]


def test_results_of_calls_made_before_the_circuit_opened_change_nothing() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 5)
    cb.record_failure()
    cb.record_success()
    assert cb.state is State.OPEN
    assert cb.seconds_until_call() == 30


def test_reading_the_state_reports_the_trial_without_making_the_transition() -> None:
    clock = FakeClock()
    seen: list[tuple[State, State]] = []
    cb = make(clock, seen)
    fail(cb, 5)
    clock.advance(30)
    assert cb.state is State.HALF_OPEN
    assert cb.seconds_until_call() == 0
    assert seen == [(State.CLOSED, State.OPEN)]
    assert cb.allow()
    assert seen == [(State.CLOSED, State.OPEN), (State.OPEN, State.HALF_OPEN)]


def test_a_late_success_after_a_read_is_not_taken_for_the_trial() -> None:
    clock = FakeClock()
    cb = make(clock)
    fail(cb, 4)
    assert cb.allow()  # a slow call, made while the circuit was still closed
    fail(cb, 1)
    clock.advance(30)
    assert cb.state is State.HALF_OPEN  # /status asks
    cb.record_success()  # the slow call ends well, but it was no trial
    assert cb.state is State.HALF_OPEN
    assert cb.allow()


PUSH_INTERVAL_SECONDS = 15.0
"""A sink's default push interval: a trial call happens at the first push after the wait."""


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("outage_seconds", [60.0, 600.0, 3600.0])
def test_with_the_defaults_the_first_delivery_comes_within_a_minute_of_recovery(
    seed: int, outage_seconds: float
) -> None:
    """However long the outage, a failed trial never pushes the next one past the cap, so
    the upstream's recovery is found within cap + jitter + one push interval, while a dead
    upstream gets one call every 30 s or so."""
    clock = FakeClock()
    circuit = breaker.CircuitBreaker(
        config.CircuitBreakerConfig(), clock=clock, rng=random.Random(seed)
    )
    recovered_at = clock.now + outage_seconds + seed * 1.7  # any phase against the pushes
    calls_while_down = 0
    while True:
        if circuit.allow():
            if clock.now >= recovered_at:
                circuit.record_success()
                break
            calls_while_down += 1
            circuit.record_failure()
        clock.advance(PUSH_INTERVAL_SECONDS)
    assert clock.now - recovered_at < 60
    assert calls_while_down <= 5 + outage_seconds / (30 * 0.8) + 1
