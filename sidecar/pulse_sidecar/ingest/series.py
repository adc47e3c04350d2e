"""The series built from events: a counter and a histogram per event type.

Each event adds its value to `<type>_total` and, with a duration, observes it in
`<type>_duration_seconds`; the labels are its dimensions plus `service`. The store is a
prometheus_client collector, so /metrics and the sinks read the same numbers.
A cap on label sets per type keeps a buggy client from exploding memory and cardinality.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterator, Mapping

from prometheus_client import metrics_core

from pulse_sidecar import samples

BUCKETS_SECONDS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0
)  # fmt: skip
"""Prometheus' default buckets, extended to an hour: events may describe long jobs."""

_LE = tuple(str(bound) for bound in BUCKETS_SECONDS)

_HISTOGRAM_SUFFIX = "_duration_seconds"


class SeriesRejectedError(Exception):
    """Recording the event would break a rule of the store; the message says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        """The event's field at fault: `type` or `dimensions`."""


@dataclasses.dataclass
class _Histogram:
    buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * len(BUCKETS_SECONDS))
    count: int = 0
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS_SECONDS, seconds)
        if index < len(self.buckets):
            self.buckets[index] += 1
        self.count += 1
        self.total += seconds


@dataclasses.dataclass
class _TypeSeries:
    counters: dict[samples.Labels, float] = dataclasses.field(default_factory=dict)
    histograms: dict[samples.Labels, _Histogram] = dataclasses.field(default_factory=dict)


class EventSeries:
    """Counters and histograms: at most `max_types` event types, `max_series` label sets each."""

    def __init__(self, max_types: int, max_series: int, reserved_names: frozenset[str]) -> None:
        """`reserved_names` are metric families that events must not shadow (the own ones)."""
        self._max_types = max_types
        self._max_series = max_series
        self._reserved = reserved_names
        self._types: dict[str, _TypeSeries] = {}
        self._families: set[str] = set()
        """The metric families the event types so far have taken."""

    def record(
        self,
        event_type: str,
        dimensions: Mapping[str, str],
        service: str,
        value: float,
        duration_seconds: float | None,
    ) -> None:
        """Adds one event; raises SeriesRejectedError, changing nothing, if it is not allowed.

        An empty dimension is no label at all, as in Prometheus, so that `{a=""}` and `{}`
        are one series and not two that collide when scraped.
        """
        pairs = [(name, text) for name, text in dimensions.items() if text]
        pairs.append(("service", service))
        pairs.sort()
        labels = tuple(pairs)
        series = self._types.get(event_type) or self._new_type(event_type)
        total = series.counters.get(labels)
        if total is None and len(series.counters) >= self._max_series:
            raise SeriesRejectedError(
                "dimensions",
                f"would create a series beyond the limit of {self._max_series} for this type",
            )
        series.counters[labels] = (total or 0.0) + value
        if duration_seconds is not None:
            histogram = series.histograms.get(labels)
            if histogram is None:
                histogram = series.histograms[labels] = _Histogram()
            histogram.observe(duration_seconds)

    def _new_type(self, event_type: str) -> _TypeSeries:
        if len(self._types) >= self._max_types:
            raise SeriesRejectedError(
                "type", f"would create an event type beyond the limit of {self._max_types}"
            )
        families = (event_type, event_type + _HISTOGRAM_SUFFIX)
        for family in families:
            if family in self._reserved or family in self._families:
                raise SeriesRejectedError("type", f"would clash with the metric family {family!r}")
        self._families.update(families)
        series = self._types[event_type] = _TypeSeries()
        return series

    def series_count(self) -> int:
        return sum(len(series.counters) for series in self._types.values())

    def collect(self) -> Iterator[metrics_core.Metric]:
        for event_type, series in self._types.items():
            counter = metrics_core.Metric(
                event_type, f"Sum of the values of {event_type} events.", "counter"
            )
            for labels, value in series.counters.items():
                counter.add_sample(f"{event_type}_total", dict(labels), value)
            yield counter
            if not series.histograms:
                continue
            name = event_type + _HISTOGRAM_SUFFIX
            histogram = metrics_core.Metric(name, f"Durations of {event_type} events.", "histogram")
            for labels, observed in series.histograms.items():
                cumulative = 0
                for le, count in zip(_LE, observed.buckets, strict=True):
                    cumulative += count
                    bucket_labels = {**dict(labels), "le": le}
                    histogram.add_sample(f"{name}_bucket", bucket_labels, cumulative)
                histogram.add_sample(
                    f"{name}_bucket", {**dict(labels), "le": "+Inf"}, observed.count
                )
                histogram.add_sample(f"{name}_count", dict(labels), observed.count)
                histogram.add_sample(f"{name}_sum", dict(labels), observed.total)
            yield histogram
