"""Sources: scraping targets, reading cgroups, checking dependencies, and the event store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grimp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, exposition

from pulse_sidecar import config, samples, sources, telemetry
from pulse_sidecar.ingest import series
from pulse_sidecar.sources import dependencies, resources, scrape

TEXT = '# TYPE jobs_total counter\njobs_total{queue="a"} 3\njobs_total{queue="b"} 4\n'
OPENMETRICS = '# TYPE jobs counter\njobs_total{queue="a"} 3\n# EOF\n'


class Target:
    """An endpoint that answers what the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = TEXT
        self.content_type = "text/plain; version=0.0.4"
        self.delay = 0.0
        self.accept: str | None = None
        self.streamed_bytes = 0

    async def never_ending(self, request: web.Request) -> web.StreamResponse:
        """A chunked body that goes on for as long as the client reads it."""
        response = web.StreamResponse(headers={"Content-Type": "text/plain; version=0.0.4"})
        await response.prepare(request)
        line = b'jobs_total{queue="x"} 1\n' * 1000
        while True:
            await response.write(line)
            self.streamed_bytes += len(line)

    async def handle(self, request: web.Request) -> web.Response:
        self.accept = request.headers.get("Accept")
        await asyncio.sleep(self.delay)
        return web.Response(
            status=self.status, body=self.body.encode(), headers={"Content-Type": self.content_type}
        )


@pytest.fixture
async def target() -> AsyncIterator[tuple[Target, int]]:
    served = Target()
    app = web.Application()
    app.router.add_get("/metrics", served.handle)
    app.router.add_get("/forever", served.never_ending)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield served, server.port or 0
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def scraper(
    port: int,
    session: aiohttp.ClientSession,
    registry: CollectorRegistry,
    timeout: float = 5,
    **limits: Any,
) -> scrape.ScrapeSource:
    settings = config.ScrapeTarget(name="app", port=port, timeout_seconds=timeout, **limits)
    return scrape.ScrapeSource(settings, session, telemetry.Telemetry(registry), {"pod": "p"})


async def test_a_text_scrape_yields_its_families_and_reports_the_target_up(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    registry = CollectorRegistry()
    source = scraper(target[1], session, registry)
    scraped = await source.collect(5_000)
    labels = (("instance", f"127.0.0.1:{target[1]}"), ("job", "app"), ("pod", "p"))
    assert scraped[:2] == [
        samples.Sample("jobs_total", (*labels, ("queue", "a")), 3.0, 5_000, "jobs", "counter"),
        samples.Sample("jobs_total", (*labels, ("queue", "b")), 4.0, 5_000, "jobs", "counter"),
    ]
    assert report(scraped) == {
        "up": 1.0,
        "scrape_samples_scraped": 2.0,
        "scrape_samples_post_metric_relabeling": 2.0,
        "scrape_series_added": 2.0,
    }
    assert {s.labels for s in scraped[2:]} == {labels}
    assert source.name == "scrape/app"
    assert source.up
    assert registry.get_sample_value("collector_target_up", {"target": "app"}) == 1
    assert registry.get_sample_value("collector_target_scrape_samples", {"target": "app"}) == 2
    assert target[0].accept is not None
    assert target[0].accept.startswith("application/openmetrics-text")


async def test_openmetrics_is_parsed_when_the_target_answers_it(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    target[0].body = OPENMETRICS
    target[0].content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    scraped = await scraper(target[1], session, CollectorRegistry()).collect(0)
    assert [(s.name, s.family, s.kind) for s in scraped[:1]] == [("jobs_total", "jobs", "counter")]
    assert scraped[1].name == "up"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": 500}, "http_status"),
        ({"body": "this is { not metrics"}, "parse"),
        ({"delay": 1.0}, "timeout"),
    ],
)
async def test_a_failing_target_is_reported_not_fatal(
    target: tuple[Target, int],
    session: aiohttp.ClientSession,
    change: dict[str, object],
    reason: str,
) -> None:
    for key, value in change.items():
        setattr(target[0], key, value)
    registry = CollectorRegistry()
    source = scraper(target[1], session, registry, timeout=0.2)
    with pytest.raises(sources.CollectionError) as failed:
        await source.collect(0)
    assert failed.value.reason == reason
    assert not source.up
    assert source.last_error
    assert registry.get_sample_value("collector_target_up", {"target": "app"}) == 0
    assert report(failed.value.samples) == {
        "up": 0.0,
        "scrape_samples_scraped": 0.0,
        "scrape_samples_post_metric_relabeling": 0.0,
        "scrape_series_added": 0.0,
    }


def report(scraped: list[samples.Sample]) -> dict[str, float]:
    """The series a scrape reports about itself, but for its duration (which varies)."""
    reported = {s.name: s.value for s in scraped if s.name == "up" or s.name.startswith("scrape_")}
    assert reported.pop("scrape_duration_seconds") >= 0
    return reported


async def test_a_second_scrape_of_the_same_series_adds_none(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    source = scraper(target[1], session, CollectorRegistry())
    await source.collect(0)
    target[0].body = TEXT + 'jobs_total{queue="c"} 5\n'
    assert report(await source.collect(1_000))["scrape_series_added"] == 1.0
    assert report(await source.collect(2_000))["scrape_series_added"] == 0.0


async def test_job_can_be_set_and_a_clashing_scraped_label_is_exported_unless_honored(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    target[0].body = 'jobs_total{job="batch",instance="x"} 1\n'
    exported = await scraper(target[1], session, CollectorRegistry(), job="relay").collect(0)
    assert dict(exported[0].labels) == {
        "exported_instance": "x",
        "exported_job": "batch",
        "instance": f"127.0.0.1:{target[1]}",
        "job": "relay",
        "pod": "p",
    }
    honored = await scraper(
        target[1], session, CollectorRegistry(), job="relay", honor_labels=True
    ).collect(0)
    assert dict(honored[0].labels) == {"instance": "x", "job": "batch", "pod": "p"}
    assert dict(honored[-1].labels) == {
        "instance": f"127.0.0.1:{target[1]}",
        "job": "relay",
        "pod": "p",
    }, "what a scrape reports about itself carries the target's labels"


async def test_metric_relabeling_cuts_series_before_the_sample_limit_counts_them(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    target[0].body = "".join(f'jobs_total{{queue="{q}"}} 1\n' for q in "abcdef")
    rules = [config.MetricRelabel(action="keep", source_labels=["queue"], regex="a|b")]
    source = scraper(
        target[1], session, CollectorRegistry(), metric_relabel_configs=rules, sample_limit=2
    )
    scraped = await source.collect(0)
    assert [dict(s.labels)["queue"] for s in scraped if s.name == "jobs_total"] == ["a", "b"]
    assert report(scraped) == {
        "up": 1.0,
        "scrape_samples_scraped": 6.0,
        "scrape_samples_post_metric_relabeling": 2.0,
        "scrape_series_added": 6.0,
    }


async def test_a_target_nobody_listens_on_is_a_connection_error(
    session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    with pytest.raises(sources.CollectionError) as failed:
        await scraper(unused_tcp_port, session, CollectorRegistry()).collect(0)
    assert failed.value.reason == "connection"


async def test_a_scrape_over_its_sample_limit_fails_whole_as_in_prometheus(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    at_limit = scraper(target[1], session, CollectorRegistry(), sample_limit=2)
    assert report(await at_limit.collect(0))["scrape_samples_post_metric_relabeling"] == 2
    registry = CollectorRegistry()
    over = scraper(target[1], session, registry, sample_limit=1)
    with pytest.raises(sources.CollectionError, match=r"more than 1 samples") as failed:
        await over.collect(0)
    assert failed.value.reason == "sample_limit"
    assert registry.get_sample_value("collector_target_up", {"target": "app"}) == 0


async def test_a_body_over_its_size_limit_is_refused_before_it_is_read(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    target[0].body = TEXT + "#" * 2000  # sent with a Content-Length beyond the limit
    source = scraper(target[1], session, CollectorRegistry(), body_size_limit_bytes=1024)
    with pytest.raises(sources.CollectionError, match=r"larger than 1024 bytes") as failed:
        await source.collect(0)
    assert failed.value.reason == "body_size_limit"


async def test_a_never_ending_body_is_cut_at_the_size_limit_not_at_the_timeout(
    target: tuple[Target, int], session: aiohttp.ClientSession
) -> None:
    settings = config.ScrapeTarget(
        name="app", port=target[1], path="/forever", body_size_limit_bytes=1024 * 1024
    )
    source = scrape.ScrapeSource(settings, session, telemetry.Telemetry(CollectorRegistry()), {})
    started = asyncio.get_running_loop().time()
    with pytest.raises(sources.CollectionError) as failed:
        await source.collect(0)
    assert failed.value.reason == "body_size_limit"
    assert asyncio.get_running_loop().time() - started < settings.timeout_seconds / 2
    assert target[0].streamed_bytes < 64 * 1024 * 1024  # the rest was never asked for


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def readings(root: Path) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels["cgroup"]): s.value
        for family in resources.CgroupCollector(root).collect()
        for s in family.samples
    }


def test_cgroup_v2_reads_the_root_and_each_child_group(tmp_path: Path) -> None:
    write(tmp_path / "cgroup.controllers", "cpu memory")
    for group, usec, memory, limit in (
        ("", 2_500_000, 1000, "max"),
        ("app", 1_000_000, 600, "4096"),
    ):
        write(tmp_path / group / "cpu.stat", f"usage_usec {usec}\nuser_usec 1\nsystem_usec 1\n")
        write(tmp_path / group / "memory.current", f"{memory}\n")
        write(tmp_path / group / "memory.stat", "anon 1\ninactive_file 100\n")
        write(tmp_path / group / "memory.max", f"{limit}\n")
    assert readings(tmp_path) == {
        ("pulse_container_cpu_usage_seconds_total", "/"): 2.5,
        ("pulse_container_cpu_usage_seconds_total", "/app"): 1.0,
        ("pulse_container_memory_usage_bytes", "/"): 1000,
        ("pulse_container_memory_usage_bytes", "/app"): 600,
        ("pulse_container_memory_working_set_bytes", "/"): 900,
        ("pulse_container_memory_working_set_bytes", "/app"): 500,
        ("pulse_container_memory_limit_bytes", "/app"): 4096,
    }


def test_cgroup_v1_reads_the_cpuacct_and_memory_controllers(tmp_path: Path) -> None:
    write(tmp_path / "cpu,cpuacct" / "cpuacct.usage", "3000000000\n")
    write(tmp_path / "memory" / "memory.usage_in_bytes", "2048\n")
    write(tmp_path / "memory" / "memory.stat", "cache 10\ntotal_inactive_file 48\n")
    write(tmp_path / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert readings(tmp_path) == {
        ("pulse_container_cpu_usage_seconds_total", "/"): 3.0,
        ("pulse_container_memory_usage_bytes", "/"): 2048,
        ("pulse_container_memory_working_set_bytes", "/"): 2000,
    }


def test_an_unreadable_cgroup_tree_yields_empty_families(tmp_path: Path) -> None:
    assert readings(tmp_path / "absent") == {}


async def test_dependency_checks_report_up_down_and_latency(
    target: tuple[Target, int], session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    registry = CollectorRegistry()
    metrics = telemetry.Telemetry(registry)
    port = target[1]
    http_up = config.HttpCheck(type="http", name="api", target=f"http://127.0.0.1:{port}/metrics")
    tcp_up = config.TcpCheck(type="tcp", name="db", target=f"127.0.0.1:{port}")
    tcp_down = config.TcpCheck(type="tcp", name="cache", target=f"127.0.0.1:{unused_tcp_port}")
    checks = [
        dependencies.DependencyCheck(c, session, metrics) for c in (http_up, tcp_up, tcp_down)
    ]
    for check in checks:
        await check.run()
    assert [c.last.up if c.last else None for c in checks] == [True, True, False]
    assert checks[2].last is not None
    assert checks[2].last.error
    assert registry.get_sample_value("collector_dependency_up", {"dependency": "cache"}) == 0
    latency = registry.get_sample_value(
        "collector_dependency_latency_seconds", {"dependency": "api"}
    )
    assert latency is not None
    assert latency > 0

    target[0].status = 503
    await checks[0].run()
    assert checks[0].last is not None
    assert checks[0].last.error == "answered 503"


def test_event_series_expose_byte_for_byte() -> None:
    store = series.EventSeries(10, 10, frozenset())
    store.record("login", {"method": "jwt", "empty": ""}, "checkout", 2.0, 0.2)
    store.record("login", {"method": "jwt"}, "checkout", 1.0, None)
    registry = CollectorRegistry()
    registry.register(store)
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0"]
    bounds += ["10.0", "30.0", "60.0", "300.0", "3600.0"]
    buckets = "".join(
        f'login_duration_seconds_bucket{{le="{le}",method="jwt",service="checkout"}} '
        f"{0.0 if float(le) < 0.2 else 1.0}\n"
        for le in bounds
    )
    assert exposition.generate_latest(registry).decode() == (
        "# HELP login_total Sum of the values of login events.\n"
        "# TYPE login_total counter\n"
        'login_total{method="jwt",service="checkout"} 3.0\n'
        "# HELP login_duration_seconds Durations of login events.\n"
        "# TYPE login_duration_seconds histogram\n"
        + buckets
        + 'login_duration_seconds_bucket{le="+Inf",method="jwt",service="checkout"} 1.0\n'
        'login_duration_seconds_count{method="jwt",service="checkout"} 1.0\n'
        'login_duration_seconds_sum{method="jwt",service="checkout"} 0.2\n'
    )


def test_event_types_whose_families_would_collide_are_refused() -> None:
    store = series.EventSeries(10, 10, frozenset({"collector_errors"}))
    store.record("job", {}, "s", 1, 1.0)
    with pytest.raises(series.SeriesRejectedError) as clash:
        store.record("job_duration_seconds", {}, "s", 1, None)
    assert clash.value.field == "type"
    with pytest.raises(series.SeriesRejectedError):
        store.record("collector_errors", {}, "s", 1, None)


def test_sources_and_sinks_import_nothing_from_the_layers_above_them() -> None:
    """Sources and sinks are the bottom of the chain app -> handlers -> forwarder, delivery ->
    pipeline: what a source raises is defined with the sources, not by the pipeline."""
    graph = grimp.build_graph("pulse_sidecar", cache_dir=None)
    above = ["app", "handlers", "appstate", "forwarder", "delivery", "pipeline"]
    chains = {
        chain
        for low in ["sources", "sinks"]
        for high in above
        for chain in graph.find_shortest_chains(f"pulse_sidecar.{low}", f"pulse_sidecar.{high}")
    }
    assert chains == set()
