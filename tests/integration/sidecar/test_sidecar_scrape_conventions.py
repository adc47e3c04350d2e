"""Relayed series look exactly like scraped ones: a real Prometheus scrapes two targets
itself (`honor_labels` off and on, the same metric relabeling) and receives the sidecar's
remote write of the same two targets; every series it stores from its own scrapes, `up` and
the `scrape_*` series included, is stored once more from the sidecar with the collector's
labels added, and when the targets break, both mark them down and their series stale."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulse_devcluster.loopback import serve
from sidecar_upstreams import Prometheus, Sidecar
from test_sidecar_remote_write import remote_write
from tests.support import eventually

BODY = """\
# TYPE http_requests_total counter
http_requests_total{code="200",path="/api/v1/users",job="batch",instance="x"} 10
http_requests_total{code="500",path="/api/v1/users",job="batch",instance="x"} 1
http_requests_total{code="200",path="/healthz",job="batch",instance="x"} 5
# TYPE go_goroutines gauge
go_goroutines 12
# TYPE debug_info gauge
debug_info{build="abc",secret="s",empty=""} 1
"""
RULES: list[dict[str, Any]] = [
    {"action": "drop", "source_labels": ["path"], "regex": "/healthz"},
    {"action": "drop", "source_labels": ["path"], "regex": "api"},  # anchored: drops nothing
    {"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"},
    {"source_labels": ["code"], "regex": r"(\d)..", "target_label": "class",
     "replacement": "${1}xx"},
    {"action": "labeldrop", "regex": "secret"},
    {"source_labels": ["__name__"], "regex": "debug_(.*)", "target_label": "__name__",
     "replacement": "app_$1"},
]  # fmt: skip
IDENTITY = ("collector", "namespace", "pod")
"""What the sidecar adds to everything it relays (tests/integration/sidecar's Sidecar)."""
REPORT_VALUES_THAT_VARY = ("scrape_duration_seconds", "scrape_series_added")


@pytest.fixture
def targets() -> Iterator[tuple[dict[str, bytes], dict[str, int]]]:
    """Two targets serving what `bodies` holds at the time of each scrape."""
    bodies = {"plain": BODY.encode(), "honored": BODY.encode()}
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(
                serve(lambda _, n=name: bodies[n], content_type="text/plain; version=0.0.4")
            )
            for name in bodies
        }
        yield bodies, ports


def scrape_settings(ports: dict[str, int]) -> list[dict[str, Any]]:
    """The two targets, in the words both the sidecar and Prometheus read."""
    return [
        {"job": f"twin-{name}", "port": port, "honor_labels": name == "honored",
         "metric_relabel_configs": RULES}
        for name, port in ports.items()
    ]  # fmt: skip


@pytest.fixture
def twin(tmp_path: Path, targets: Any) -> Iterator[Prometheus]:
    """A Prometheus scraping the targets itself, every second, and receiving remote write."""
    workdir = tmp_path / "twin"
    workdir.mkdir()
    running = Prometheus(workdir)
    jobs = [
        {
            "job_name": target["job"],
            "honor_labels": target["honor_labels"],
            "static_configs": [{"targets": [f"127.0.0.1:{target['port']}"]}],
            "metric_relabel_configs": target["metric_relabel_configs"],
        }
        for target in scrape_settings(targets[1])
    ]
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s"}, "scrape_configs": jobs}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    try:
        running.start()
        yield running
    finally:
        running.stop()


Series = frozenset[tuple[str, str]]


def stored(prometheus: Prometheus) -> tuple[dict[Series, float], dict[Series, float]]:
    """Every series Prometheus holds now, split into its own scrapes' and the sidecar's
    (without the collector's labels), each with its value."""
    own: dict[Series, float] = {}
    relayed: dict[Series, float] = {}
    for result in prometheus.query('{__name__=~".+"}'):
        labels = result["metric"]
        value = float(result["value"][1])
        if labels["__name__"] in REPORT_VALUES_THAT_VARY:
            value = 0.0
        if "collector" in labels:
            relayed[frozenset((k, v) for k, v in labels.items() if k not in IDENTITY)] = value
        else:
            own[frozenset(labels.items())] = value
    return own, relayed


def test_relayed_series_are_what_prometheus_stores_from_its_own_scrape(
    twin: Prometheus,
    sidecar: Callable[..., Sidecar],
    targets: tuple[dict[str, bytes], dict[str, int]],
) -> None:
    bodies, ports = targets
    scrape = [
        {**target, "name": target["job"], "interval_seconds": 1, "timeout_seconds": 1}
        for target in scrape_settings(ports)
    ]
    running = sidecar(scrape=scrape, **remote_write(twin.url))
    running.start()

    def both_complete() -> tuple[dict[Series, float], dict[Series, float]] | None:
        own, relayed = stored(twin)
        complete = len(own) == 2 * (3 + 5)  # per target: 3 kept series, 5 about the scrape
        return (own, relayed) if complete and own.keys() == relayed.keys() else None

    own, relayed = eventually(both_complete, timeout=60, what="the same series from both")
    assert relayed == own
    names = {dict(series)["__name__"] for series in own}
    assert names == {
        "http_requests_total", "app_info", "up", "scrape_duration_seconds",
        "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added",
    }  # fmt: skip
    assert own[frozenset({"__name__": "scrape_samples_scraped", "job": "twin-plain",
                          "instance": f"127.0.0.1:{ports['plain']}"}.items())] == 5  # fmt: skip
    requests = [dict(s) for s in own if dict(s)["__name__"] == "http_requests_total"]
    assert {(r["job"], r.get("exported_job"), r["class"]) for r in requests} == {
        ("twin-plain", "batch", "2xx"), ("twin-plain", "batch", "5xx"),
        ("batch", None, "2xx"), ("batch", None, "5xx"),
    }, "a clashing scraped job is exported_job, or kept with honor_labels"  # fmt: skip

    for name in bodies:
        bodies[name] = b"this is { not metrics\n"

    def both_down() -> bool:
        for side in stored(twin):  # Prometheus's own, then the sidecar's
            ups = [value for series, value in side.items() if ("__name__", "up") in series]
            if ups != [0.0, 0.0] or any(("__name__", "app_info") in series for series in side):
                return False
        return True

    eventually(both_down, timeout=30, what="up 0 and the targets' series stale, in both")
    assert stored(twin)[0] == stored(twin)[1]
