"""The OTLP/HTTP sink against Prometheus' own OTLP receiver: counters and histograms intact."""

from __future__ import annotations

from collections.abc import Callable

from sidecar_upstreams import Prometheus, Sidecar
from tests.support import eventually

SERIES = {
    "collector": "checkout",
    "namespace": "shop",
    "pod": "checkout-7d9f",
    "service": "checkout",
    "method": "jwt",
}


def test_events_arrive_as_a_monotonic_sum_and_an_explicit_bucket_histogram(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(
        ingest={"interval_seconds": 3600},
        sinks=[
            {
                "type": "otlp",
                "url": f"{prometheus.url}/api/v1/otlp/v1/metrics",
                "push_interval_seconds": 0.2,
            }
        ],
    )
    running.start()
    for duration in (40, 250, 250):
        running.post(
            {"type": "login", "value": 2, "duration_ms": duration, "dimensions": {"method": "jwt"}}
        )
    running.flush()
    eventually(lambda: prometheus.query("login_total") != [], what="the OTLP push")
    assert prometheus.values("login_total") == {frozenset(SERIES.items()): 6.0}
    assert prometheus.values("login_duration_seconds_count") == {frozenset(SERIES.items()): 3.0}
    assert prometheus.values("login_duration_seconds_sum") == {frozenset(SERIES.items()): 0.54}
    buckets = prometheus.values("login_duration_seconds_bucket")
    by_bound = {dict(labels)["le"]: value for labels, value in buckets.items()}
    assert (by_bound["0.025"], by_bound["0.05"], by_bound["0.25"], by_bound["+Inf"]) == (0, 1, 3, 3)
