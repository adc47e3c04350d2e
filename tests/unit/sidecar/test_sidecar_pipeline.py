"""Collection: flattening families into labelled samples, staleness, counting failures."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, metrics_core, parser
from prometheus_client.openmetrics import parser as openmetrics_parser

from pulse_sidecar import pipeline, samples, sources, telemetry

SCRAPED = """\
# TYPE http_requests_total counter
http_requests_total{code="200",pod="from-app"} 10 1700000000000
# TYPE temperature gauge
temperature 21.5
"""


def test_flatten_labels_samples_and_keeps_clashing_labels_as_exported() -> None:
    families = parser.text_string_to_metric_families(SCRAPED)
    flat = samples.flatten(families, 5_000, {"collector": "c", "pod": "p"})
    assert flat == [
        samples.Sample(
            "http_requests_total",
            (("code", "200"), ("collector", "c"), ("exported_pod", "from-app"), ("pod", "p")),
            10.0,
            1_700_000_000_000,
            "http_requests",
            "counter",
        ),
        samples.Sample(
            "temperature", (("collector", "c"), ("pod", "p")), 21.5, 5_000, "temperature", "gauge"
        ),
    ]


def test_flatten_leaves_out_labels_with_empty_values_from_events_and_identity() -> None:
    families = parser.text_string_to_metric_families('logins_total{method="",realm="x"} 4\n')
    (sample,) = samples.flatten(families, 5_000, {"collector": "c", "pod": ""})
    assert sample.labels == (("collector", "c"), ("realm", "x"))


def test_flatten_leaves_out_openmetrics_created_samples() -> None:
    text = "# TYPE jobs counter\njobs_total 3\njobs_created 1600000000\n# EOF\n"
    families = openmetrics_parser.text_string_to_metric_families(text)
    assert [s.name for s in samples.flatten(families, 0, {})] == ["jobs_total"]


class Source:
    def __init__(self, *results: list[metrics_core.Metric] | sources.CollectionError) -> None:
        self.results = list(results)
        self.name = "scrape/app"
        self.interval_seconds = 1.0

    async def collect(self, timestamp_ms: int) -> list[samples.Sample]:
        result = self.results.pop(0)
        if isinstance(result, sources.CollectionError):
            raise result
        return samples.flatten(result, timestamp_ms, {})


class Outlet:
    name = "sink"

    def __init__(self) -> None:
        self.batches: list[list[samples.Sample]] = []

    async def offer(self, batch: Sequence[samples.Sample]) -> None:
        self.batches.append(list(batch))


def gauge(name: str, value: float) -> metrics_core.Metric:
    family = metrics_core.GaugeMetricFamily(name, "")
    family.add_metric([], value)
    return family


async def test_series_that_disappear_or_whose_source_fails_get_staleness_markers() -> None:
    registry = CollectorRegistry()
    outlet = Outlet()
    clock = iter([1.0, 2.0, 3.0, 4.0]).__next__
    running = pipeline.Pipeline([outlet], telemetry.Telemetry(registry), clock)
    source = Source(
        [gauge("a", 1), gauge("b", 2)],
        [gauge("a", 3)],
        sources.CollectionError("timeout", "no answer"),
        [gauge("a", 4)],
    )
    for _ in range(4):
        await running.run(source)
    summary = [
        [(s.name, s.timestamp_ms, samples.is_stale(s.value)) for s in b] for b in outlet.batches
    ]
    assert summary == [
        [("a", 1000, False), ("b", 1000, False)],
        [("a", 2000, False), ("b", 2000, True)],
        [("a", 3000, True)],
        [("a", 4000, False)],
    ]
    value = registry.get_sample_value
    assert value("collector_collections_total", {"source": "scrape/app", "result": "success"}) == 3
    assert value("collector_collections_total", {"source": "scrape/app", "result": "failure"}) == 1
    assert value("collector_errors_total", {"component": "scrape/app", "reason": "timeout"}) == 1
    assert value("collector_samples_received_total", {"source": "scrape/app"}) == 6
    assert value("collector_processing_seconds_count", {"source": "scrape/app"}) == 4
    assert running.last_collection == {"scrape/app": 4.0}


async def test_what_a_failed_collection_reports_is_sent_and_does_not_go_stale() -> None:
    outlet = Outlet()
    clock = iter([1.0, 2.0]).__next__
    running = pipeline.Pipeline([outlet], telemetry.Telemetry(CollectorRegistry()), clock)
    down = samples.Sample("up", (), 0.0, 2000, "up", "gauge")
    source = Source(
        [gauge("up", 1), gauge("a", 1)],
        sources.CollectionError("timeout", "no answer", [down]),
    )
    for _ in range(2):
        await running.run(source)
    failed = [
        (s.name, s.value if s.name == "up" else samples.is_stale(s.value))
        for s in outlet.batches[1]
    ]
    assert failed == [("up", 0.0), ("a", True)]


class Batches:
    """A source that returns prepared samples, as a scrape's parser does."""

    name = "scrape/app"
    interval_seconds = 1.0

    def __init__(self, *batches: list[samples.Sample]) -> None:
        self.batches = list(batches)

    async def collect(self, timestamp_ms: int) -> list[samples.Sample]:
        return self.batches.pop(0)


async def test_a_series_is_stale_only_when_gone_whatever_object_its_labels_are() -> None:
    kept, rebuilt, gone = (("q", "a"),), (("q", "b"),), (("q", "c"),)
    first = [
        samples.Sample("depth", labels, 1.0, 1, "depth", "gauge")
        for labels in (kept, rebuilt, gone)
    ]
    equal_but_new = tuple(tuple(pair) for pair in [("q", "".join(["b"]))])
    assert equal_but_new == rebuilt
    assert equal_but_new is not rebuilt
    second = [
        samples.Sample("depth", kept, 2.0, 2, "depth", "gauge"),
        samples.Sample("depth", equal_but_new, 2.0, 2, "depth", "gauge"),
    ]
    outlet = Outlet()
    clock = iter([1.0, 2.0]).__next__
    running = pipeline.Pipeline([outlet], telemetry.Telemetry(CollectorRegistry()), clock)
    source = Batches(first, second)
    for _ in range(2):
        await running.run(source)
    stale = [s.labels for s in outlet.batches[1] if samples.is_stale(s.value)]
    assert stale == [gone]
