"""A MetricsCollector's circuit breaker defaults are the sidecar's own: the sidecar behaves
the same run alone (`pulse-sidecar --config`) or under the operator."""

from __future__ import annotations

from pulse_operator.api.metricscollector import CircuitBreakerSpec
from pulse_sidecar import config


def test_the_operator_and_the_sidecar_default_to_the_same_breaker() -> None:
    operator, sidecar = CircuitBreakerSpec(), config.CircuitBreakerConfig()
    assert (operator.failure_threshold, operator.open_seconds, operator.max_open_seconds) == (
        sidecar.failure_threshold,
        sidecar.open_seconds,
        sidecar.max_open_seconds,
    )
