"""The sidecar's own metrics, in the registry of one application.

Names are the ones the operator's alerts use (collector_errors_total,
collector_samples_dropped_total, collector_circuit_state, collector_spool_bytes against
collector_spool_limit_bytes); renaming one is a breaking change for those alerts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info


class Telemetry:
    """Every own metric, created in `registry` (never in the global one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.info = Info("collector", "The sidecar's version and container.", registry=registry)
        self.collections = Counter(
            "collector_collections",
            "Collections run, by source and result (success or failure).",
            ["source", "result"],
            registry=registry,
        )
        self.processing = Histogram(
            "collector_processing_seconds",
            "Time to collect from a source and queue the samples for every sink.",
            ["source"],
            registry=registry,
        )
        self.errors = Counter(
            "collector_errors",
            "Errors, by component (source or sink) and reason.",
            ["component", "reason"],
            registry=registry,
        )
        self.samples_received = Counter(
            "collector_samples_received",
            "Samples collected, by source.",
            ["source"],
            registry=registry,
        )
        self.samples_sent = Counter(
            "collector_samples_sent",
            "Samples accepted by a sink.",
            ["sink"],
            registry=registry,
        )
        self.samples_dropped = Counter(
            "collector_samples_dropped",
            "Samples given up on, by sink and reason"
            " (rejected, spool_full, spool_error, spool_corrupt, buffer_full, sink_removed).",
            ["sink", "reason"],
            registry=registry,
        )
        self.events = Counter(
            "collector_events",
            "Events posted to POST /metrics, by result (accepted or rejected).",
            ["result"],
            registry=registry,
        )
        self.target_up = Gauge(
            "collector_target_up",
            "1 if the last scrape of the target succeeded, else 0.",
            ["target"],
            registry=registry,
        )
        self.target_duration = Gauge(
            "collector_target_scrape_duration_seconds",
            "Duration of the last scrape of the target.",
            ["target"],
            registry=registry,
        )
        self.target_samples = Gauge(
            "collector_target_scrape_samples",
            "Samples in the last successful scrape of the target.",
            ["target"],
            registry=registry,
        )
        self.dependency_up = Gauge(
            "collector_dependency_up",
            "1 if the last check of the dependency succeeded, else 0.",
            ["dependency"],
            registry=registry,
        )
        self.dependency_latency = Gauge(
            "collector_dependency_latency_seconds",
            "Duration of the last check of the dependency.",
            ["dependency"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "collector_circuit_state",
            "1 for the current state (closed, open, half_open) of each sink's circuit breaker.",
            ["sink", "state"],
            registry=registry,
        )
        self.circuit_transitions = Counter(
            "collector_circuit_transitions",
            "Circuit breaker transitions, by sink and the state entered.",
            ["sink", "state"],
            registry=registry,
        )
        self.buffer_samples = Gauge(
            "collector_buffer_samples",
            "Samples waiting in memory for a sink.",
            ["sink"],
            registry=registry,
        )
        self.spool_samples = Gauge(
            "collector_spool_samples",
            "Samples waiting in the durable spool for a sink.",
            ["sink"],
            registry=registry,
        )
        self.spool_bytes = Gauge(
            "collector_spool_bytes",
            "Payload bytes held in the durable spool.",
            registry=registry,
        )
        self.spool_quarantines = Counter(
            "collector_spool_quarantines",
            "Damaged spool files set aside and replaced by an empty one.",
            registry=registry,
        )
        self.spool_limit_bytes = Gauge(
            "collector_spool_limit_bytes",
            "Payload bytes the durable spool may hold before dropping the oldest batches.",
            registry=registry,
        )
        self.requests_in_flight = Gauge(
            "collector_sink_requests_in_flight",
            "HTTP requests to a sink under way: the connections of its pool in use.",
            ["sink"],
            registry=registry,
        )
        self.pool_connections = Gauge(
            "collector_sink_pool_connections",
            "Size of the connection pool of a sink.",
            ["sink"],
            registry=registry,
        )
