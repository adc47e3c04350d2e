"""Delivering one payload to one sink: through its circuit breaker, with its protocol's retries.

Every attempt asks the breaker first, so an open circuit stops retries too and no request
reaches an upstream in trouble except the breaker's trial call. Backoff is exponential with
jitter and never shorter than the upstream's Retry-After; a Retry-After longer than the
backoff cap ends the attempt, and the batch waits in the spool instead of in a sleeping task.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable

from pulse_sidecar import breaker, config, telemetry
from pulse_sidecar.sinks import http

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    """Refused for good (a 4xx the protocol does not retry): dropped and counted."""
    DEFERRED = "deferred"
    """Not now: the circuit is open, or the upstream failed every attempt."""


class Delivery:
    """Sends payloads to one sink, and remembers how the last attempts went."""

    def __init__(
        self,
        sink: str,
        circuit: breaker.CircuitBreaker,
        retry: config.RetryConfig,
        metrics: telemetry.Telemetry,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.circuit = circuit
        self._sink = sink
        self._retry = retry
        self._metrics = metrics
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.last_success: float | None = None
        """Wall-clock time of the last delivered payload."""
        self.last_error: str | None = None

    async def send(self, write: Callable[[], Awaitable[None]], samples: int) -> Outcome:
        """Calls `write` until it succeeds, is refused for good, or must wait."""
        for attempt in range(self._retry.max_attempts):
            if not self.circuit.allow():
                return Outcome.DEFERRED
            try:
                await write()
            except http.SinkError as error:
                self._metrics.errors.labels(self._sink, error.reason).inc()
                self.last_error = str(error)
                if not error.retryable:
                    self.circuit.record_success()  # the upstream is healthy; the data is not
                    stored = min(error.written, samples)
                    self._metrics.samples_sent.labels(self._sink).inc(stored)
                    self._metrics.samples_dropped.labels(self._sink, "rejected").inc(
                        samples - stored
                    )
                    log.error(
                        "sink refused a batch for good; dropped it",
                        extra={
                            "sink": self._sink,
                            "samples": samples - stored,
                            "stored": stored,
                            "error": str(error),
                        },
                    )
                    return Outcome.REJECTED
                self.circuit.record_failure(error.retry_after)
                delay = self._backoff(attempt, error.retry_after)
                log.warning(
                    "sink failed",
                    extra={"sink": self._sink, "attempt": attempt + 1, "error": str(error)},
                )
                if (
                    attempt + 1 == self._retry.max_attempts
                    or delay > self._retry.max_backoff_seconds
                ):
                    return Outcome.DEFERRED
                await self._sleep(delay)
            else:
                self.circuit.record_success()
                self._metrics.samples_sent.labels(self._sink).inc(samples)
                self.last_success = time.time()
                return Outcome.DELIVERED
        return Outcome.DEFERRED

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential, capped, with "equal jitter" (between half and all of the step)."""
        step = min(
            self._retry.initial_backoff_seconds * 2**attempt, self._retry.max_backoff_seconds
        )
        delay = self._rng.uniform(step / 2, step)
        return max(delay, retry_after or 0.0)
