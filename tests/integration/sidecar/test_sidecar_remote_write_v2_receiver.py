"""Remote write 2.0 against the real Prometheus receiver: taken as 2.0 with the metric types,
and, by a Prometheus that accepts only 1.0, refused with 415 and then taken as 1.0.

Both receivers run with `type-and-unit-labels`, which stores the metric type a 2.0 request
carries as a `__type__` label: the proof of which message Prometheus took."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pulse_devcluster import exposition
from sidecar_upstreams import Prometheus, Sidecar
from test_sidecar_remote_write import remote_write
from tests.support import eventually

SCRAPED = (
    "# TYPE jobs_total counter\njobs_total 3\n# TYPE queue_depth gauge\nqueue_depth 7\nmystery 1\n"
)
FEATURES = "type-and-unit-labels"
FALLBACK = "does not speak remote write 2.0"


@pytest.fixture
def scraped_port() -> Iterator[int]:
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(exposition.serving(SCRAPED.encode()))


def relay(sidecar: Callable[..., Sidecar], port: int, receiver: Prometheus) -> Sidecar:
    """A sidecar scraping SCRAPED once and pushing it with protocol 2.0, once it arrived."""
    running = sidecar(
        scrape=[{"name": "app", "port": port, "interval_seconds": 3600}],
        **remote_write(receiver.url, protocol="2.0"),
    )
    running.start()
    for name in ("jobs_total", "queue_depth", "mystery"):
        eventually(lambda name=name: receiver.query(name) != [], what=f"{name} in Prometheus")
    return running


def types(receiver: Prometheus) -> dict[str, str | None]:
    found = receiver.query('{__name__=~"jobs_total|queue_depth|mystery"}')
    return {r["metric"]["__name__"]: r["metric"].get("__type__") for r in found}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Callable[[str | None], Prometheus]]:
    """Starts a Prometheus taking the given remote write messages (None: 1.0 and 2.0)."""
    started: list[Prometheus] = []

    def start(accepted: str | None) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        started.append(Prometheus(workdir, accepted_messages=accepted, features=FEATURES))
        started[-1].start()
        return started[-1]

    try:
        yield start
    finally:
        for each in started:
            each.stop()


def test_a_2_0_receiver_takes_2_0_with_the_metric_types(
    receiver: Callable[[str | None], Prometheus],
    sidecar: Callable[..., Sidecar],
    scraped_port: int,
) -> None:
    both = receiver(None)
    running = relay(sidecar, scraped_port, both)
    assert types(both) == {"jobs_total": "counter", "queue_depth": "gauge", "mystery": None}
    assert both.samples("jobs_total") == [3.0]
    assert FALLBACK not in running.log()


def test_a_1_0_only_receiver_answers_415_and_gets_every_sample_as_1_0(
    receiver: Callable[[str | None], Prometheus],
    sidecar: Callable[..., Sidecar],
    scraped_port: int,
) -> None:
    only_1_0 = receiver("prometheus.WriteRequest")
    running = relay(sidecar, scraped_port, only_1_0)
    assert types(only_1_0) == {"jobs_total": None, "queue_depth": None, "mystery": None}
    assert only_1_0.samples("jobs_total") == [3.0]
    assert only_1_0.samples("queue_depth") == [7.0]
    assert FALLBACK in running.log()
    assert "answered 415" in running.log()
