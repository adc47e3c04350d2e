"""The operator's own metrics, served by `pulse-operator run --metrics URL`."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

from pulse_operator.reconcile.report import Outcome


class OperatorMetrics:
    """Reconciliations by kind, trigger and result, and how long they take."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu, fds
        self.reconciles = Counter(
            "pulse_operator_reconciles",
            "Reconciliations, by kind, trigger (spec: the resource changed; child: one of its "
            "children did; pods: its pods were re-read; prometheus: a Prometheus changed its "
            "selectors; live: what the Prometheus at PULSE_PROMETHEUS_URL says moved) and "
            "result (ok, degraded, error).",
            ["kind", "trigger", "result"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "pulse_operator_reconcile_duration_seconds",
            "Time to reconcile one resource, including its API calls.",
            ["kind", "trigger"],
            registry=self.registry,
        )

    def measure(
        self, kind: str, trigger: str, work: Callable[[], Outcome | None]
    ) -> Outcome | None:
        """Runs one reconciliation, timed and counted by its result: what `work` returns
        (ok when it had nothing to report), error when it raised."""
        begin = time.monotonic()
        result = "error"
        try:
            outcome = work()
            result = "ok" if outcome is None else outcome.result
            return outcome
        finally:
            self.duration.labels(kind, trigger).observe(time.monotonic() - begin)
            self.reconciles.labels(kind, trigger, result).inc()

    def serve(self, url: str) -> None:
        """Serves the registry at `url` (http://HOST:PORT/metrics) from a background thread."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or parsed.port is None:
            raise ValueError(f"--metrics needs http://HOST:PORT/metrics, not {url!r}")
        start_http_server(parsed.port, addr=parsed.hostname or "0.0.0.0", registry=self.registry)
