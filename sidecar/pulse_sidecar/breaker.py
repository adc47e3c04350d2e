"""A circuit breaker per sink, so that an upstream in trouble is left alone until it recovers.

Closed: every call goes through; the circuit opens after `failure_threshold` consecutive
failures, or when the failure rate over the last `window_size` calls reaches `failure_rate`
once `min_calls` were made. Open: no call until the wait is over, then half-open. Half-open:
exactly one trial call; success closes the circuit, failure opens it again for twice the
previous wait (up to `max_open_seconds`). Waits are spread by ±`jitter` so that many pods do
not retry in step, and never end before an upstream's Retry-After.

Only `allow` moves an open circuit to half-open. Reading `state` (as /status does) changes
nothing, so a read neither fires the listener nor lets the late outcome of a call made before
the circuit opened be taken for the trial's.

Time comes from an injected clock, so tests drive it without sleeping.
"""

from __future__ import annotations

import collections
import enum
import random
import time
from collections.abc import Callable

from pulse_sidecar import config

Clock = Callable[[], float]


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


Listener = Callable[[State, State], None]


class CircuitBreaker:
    """Decides whether a sink may be called now, from the outcomes of its previous calls."""

    def __init__(
        self,
        settings: config.CircuitBreakerConfig,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        on_transition: Listener | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_transition = on_transition
        self._state = State.CLOSED
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=settings.window_size)
        self._consecutive_failures = 0
        self._failed_trials = 0
        self._reopen_at = 0.0
        self._hold_until = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> State:
        """The current state; an open circuit whose wait is over reads as half-open, since the
        next call would be its trial, but stays open until `allow` lets that call through."""
        if self._wait_over():
            return State.HALF_OPEN
        return self._state

    def seconds_until_call(self) -> float:
        """How long until a call may be allowed (0 when one may be now)."""
        now = self._clock()
        wait = self._hold_until - now
        if self.state is State.OPEN:
            wait = max(wait, self._reopen_at - now)
        return max(wait, 0.0)

    def allow(self) -> bool:
        """Whether to make a call now; in half-open, True once, for the trial call."""
        if self._clock() < self._hold_until:
            return False
        if self._wait_over():
            self._transition(State.HALF_OPEN)
        if self._state is State.CLOSED:
            return True
        if self._state is State.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """The upstream took the call (or refused it for a reason that is not its health)."""
        if self._state is State.HALF_OPEN:
            self._failed_trials = 0
            self._outcomes.clear()
            self._consecutive_failures = 0
            self._trial_in_flight = False
            self._transition(State.CLOSED)
        elif self._state is State.CLOSED:
            self._consecutive_failures = 0
            self._outcomes.append(True)

    def record_failure(self, retry_after: float | None = None) -> None:
        """The call failed in a way that says the upstream is unwell.

        `retry_after` is the upstream's Retry-After in seconds: no call before it is over.
        """
        now = self._clock()
        if retry_after is not None and retry_after > 0:
            self._hold_until = max(self._hold_until, now + retry_after)
        if self._state is State.HALF_OPEN:
            self._trial_in_flight = False
            self._failed_trials += 1
            self._open(now)
        elif self._state is State.CLOSED:
            self._consecutive_failures += 1
            self._outcomes.append(False)
            if self._should_open():
                self._open(now)

    def _wait_over(self) -> bool:
        """Whether the circuit is open and its wait is over: the next call is the trial."""
        return self._state is State.OPEN and self._clock() >= self._reopen_at

    def _should_open(self) -> bool:
        settings = self._settings
        if self._consecutive_failures >= settings.failure_threshold:
            return True
        calls = len(self._outcomes)
        failures = calls - sum(self._outcomes)
        return calls >= settings.min_calls and failures / calls >= settings.failure_rate

    def _open(self, now: float) -> None:
        settings = self._settings
        wait = min(settings.open_seconds * 2**self._failed_trials, settings.max_open_seconds)
        wait *= self._rng.uniform(1 - settings.jitter, 1 + settings.jitter)
        self._reopen_at = max(now + wait, self._hold_until)
        self._transition(State.OPEN)

    def _transition(self, new: State) -> None:
        old, self._state = self._state, new
        if self._on_transition is not None:
            self._on_transition(old, new)
