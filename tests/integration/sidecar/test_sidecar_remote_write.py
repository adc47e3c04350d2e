"""The sidecar against a real Prometheus remote-write receiver: what arrives, and outages."""

from __future__ import annotations

import contextlib
import itertools
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pulse_devcluster import exposition
from sidecar_upstreams import Prometheus, Proxy, Sidecar, http_get
from tests.support import eventually
from tests.wire import decode_write_request

LABELS = {
    "collector": "checkout",
    "namespace": "shop",
    "pod": "checkout-7d9f",
    "service": "checkout",
}


def remote_write(url: str, **sink: Any) -> dict[str, Any]:
    """Settings pushing to `url` quickly, with events collected only on /flush and shutdown."""
    return {
        "ingest": {"interval_seconds": 3600},
        "sinks": [
            {
                "type": "remote_write",
                "url": f"{url}/api/v1/write",
                "push_interval_seconds": 0.2,
                "retry": {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2},
                "circuit_breaker": {"open_seconds": 1, "max_open_seconds": 2},
                **sink,
            }
        ],
    }


def login(value: float, **dimensions: str) -> dict[str, Any]:
    return {"type": "login", "value": value, "dimensions": dimensions}


def test_events_arrive_with_their_labels_and_exact_values(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(**remote_write(prometheus.url))
    running.start()
    running.post(login(2, method="jwt"), login(3, method="jwt"), login(7, method="oauth"))
    running.flush()
    running.post({"type": "login", "value": 5, "duration_ms": 250, "dimensions": {"method": "jwt"}})
    running.flush()

    eventually(
        lambda: len(prometheus.query("login_total[1h]")) == 2, what="both series in Prometheus"
    )
    eventually(
        lambda: len(prometheus.samples('login_total{method="jwt"}')) == 2, what="the second push"
    )
    assert prometheus.samples('login_total{method="jwt"}') == [5.0, 10.0]
    assert prometheus.samples('login_total{method="oauth"}') == [7.0, 7.0]
    assert prometheus.values("login_total") == {
        frozenset({**LABELS, "method": "jwt"}.items()): 10.0,
        frozenset({**LABELS, "method": "oauth"}.items()): 7.0,
    }
    assert prometheus.samples('login_duration_seconds_count{method="jwt"}') == [1.0]
    assert prometheus.samples('login_duration_seconds_bucket{method="jwt",le="0.25"}') == [1.0]
    assert prometheus.samples('login_duration_seconds_bucket{method="jwt",le="0.1"}') == [0.0]
    assert (
        running.metric('collector_samples_sent_total{sink="remote-write"}') == 2 + 2 + 16 + 2
    )  # counters, then the histogram's buckets, count and sum


@pytest.fixture
def target() -> Iterator[Callable[[str], str]]:
    """Serves a fixed Prometheus text exposition on loopback; returns its port."""
    with contextlib.ExitStack() as servers:

        def serve(text: str) -> str:
            return str(servers.enter_context(exposition.serving(text.encode())))

        yield serve


def test_scraped_series_are_relayed_once_each_with_exact_values(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar], target: Callable[[str], str]
) -> None:
    exposition = "# TYPE queue_depth gauge\n" + "".join(
        f'queue_depth{{queue="q{i}"}} {i * 1.5}\n' for i in range(200)
    )
    port = target(exposition)
    running = sidecar(
        scrape=[{"name": "app", "port": int(port), "interval_seconds": 3600}],
        **remote_write(prometheus.url),
    )
    running.start()
    eventually(lambda: len(prometheus.query("queue_depth")) == 200, what="200 series in Prometheus")
    target_labels = {"job": "checkout", "instance": f"127.0.0.1:{port}"}
    assert prometheus.values("count_over_time(queue_depth[1h])") == {
        frozenset({**LABELS, **target_labels, "queue": f"q{i}"}.items())
        - {("service", "checkout")}: 1.0
        for i in range(200)
    }
    assert prometheus.values("sum(queue_depth)") == {frozenset(): sum(i * 1.5 for i in range(200))}


def test_one_large_family_is_sent_in_requests_of_at_most_max_samples_per_send(
    prometheus: Prometheus,
    sidecar: Callable[..., Sidecar],
    target: Callable[[str], str],
    proxy_to: Callable[[str], Proxy],
) -> None:
    """Receivers bound a request's size; a family is no reason to go past the limit."""
    exposition = "# TYPE queue_depth gauge\n" + "".join(
        f'queue_depth{{queue="q{i}"}} {i}\n' for i in range(2_500)
    )
    port = target(exposition)
    proxy = proxy_to(prometheus.url)
    running = sidecar(
        scrape=[{"name": "app", "port": int(port), "interval_seconds": 3600}],
        **remote_write(proxy.url, max_samples_per_send=1_000),
    )
    running.start()
    eventually(lambda: len(prometheus.query("queue_depth")) == 2_500, what="every series")
    sent = [len(decode_write_request(r.body)) for r in proxy.requests if r.body]
    assert sorted(sent) == [505, 1_000, 1_000]  # with the scrape's `up` and 4 `scrape_*`


def test_an_outage_opens_the_breaker_and_every_sample_arrives_after_recovery(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar], proxy_to: Callable[[str], Proxy]
) -> None:
    proxy = proxy_to(prometheus.url)
    running = sidecar(**remote_write(proxy.url))
    running.start()
    running.post(login(1))
    running.flush()
    eventually(lambda: prometheus.query("login_total") != [], what="the first sample")

    prometheus.stop()
    before = len(proxy.requests)
    for _ in range(8):
        running.post(login(1))
        running.flush()
        time.sleep(0.3)
    during = proxy.requests[before:]
    assert {r.status for r in during} == {503}
    # Failures come in a burst (retries 0.2 s apart at most) until the breaker opens; from
    # then on only trial calls, each after the open wait (1 s, -20% jitter, then doubling).
    gaps = [b.at - a.at for a, b in itertools.pairwise(during)]
    burst = next(i for i, gap in enumerate(gaps) if gap >= 0.8) + 1
    assert 1 <= burst <= 5, f"{burst} calls before the breaker opened"
    trials = len(during) - burst
    assert trials >= 1
    assert all(gap >= 0.8 for gap in gaps[burst - 1 :]), f"calls while open {gaps} s apart"
    assert running.status()["sinks"][0]["circuit"] in ("open", "half_open")
    assert http_get(f"{running.url}/ready")[0] == 200  # an upstream outage is not ours
    assert running.status()["spool"]["samples"] == 8

    prometheus.start()
    eventually(lambda: running.status()["spool"]["samples"] == 0, what="the spool to be replayed")
    assert prometheus.samples("login_total") == [float(n) for n in range(1, 10)]
    assert running.status()["sinks"][0]["circuit"] == "closed"
    assert running.metric('collector_circuit_transitions_total{sink="remote-write",state="open"}')


def test_a_receiver_answering_400_gets_no_retries_and_the_batch_is_counted_dropped(
    sidecar: Callable[..., Sidecar], proxy_to: Callable[[str], Proxy]
) -> None:
    proxy = proxy_to("http://127.0.0.1:9")
    proxy.answer = 400
    running = sidecar(**remote_write(proxy.url))
    running.start()
    for value in (1, 2, 3):
        running.post(login(value))
        running.flush()
    assert [r.status for r in proxy.requests] == [400, 400, 400]
    assert (
        running.metric('collector_samples_dropped_total{reason="rejected",sink="remote-write"}')
        == 3
    )
    assert running.status()["spool"]["samples"] == 0
    assert running.status()["sinks"][0]["circuit"] == "closed"


def test_a_receiver_answering_503_gets_retries_with_backoff(
    sidecar: Callable[..., Sidecar], proxy_to: Callable[[str], Proxy]
) -> None:
    proxy = proxy_to("http://127.0.0.1:9")
    proxy.answer = 503
    retry = {"max_attempts": 4, "initial_backoff_seconds": 0.1}
    running = sidecar(**remote_write(proxy.url, retry=retry, push_interval_seconds=3600))
    running.start()
    running.post(login(1))
    running.flush()
    attempts = [r.at for r in proxy.requests]
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    assert gaps[2] >= 0.2
    assert running.status()["spool"]["samples"] == 1


def test_nothing_spooled_is_lost_when_the_sidecar_is_killed_during_an_outage(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(**remote_write(prometheus.url))
    running.start()
    prometheus.stop()
    for value in (1, 2, 3, 4):
        running.post(login(value))
        running.flush()
    assert running.status()["spool"]["samples"] == 4
    assert running.stop(signal.SIGKILL) == -signal.SIGKILL

    prometheus.start()
    running.start()
    eventually(lambda: running.status()["spool"]["samples"] == 0, what="the spool to be replayed")
    assert prometheus.samples("login_total") == [1.0, 3.0, 6.0, 10.0]


def test_a_spool_damaged_while_the_sidecar_was_down_is_set_aside_and_collection_goes_on(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    """Before, every start exited 1 on `file is not a database`: a crash loop."""
    running = sidecar(server={"shutdown_grace_seconds": 1}, **remote_write(prometheus.url))
    running.start()
    prometheus.stop()
    running.post(login(1))
    assert running.stop(signal.SIGTERM) == 0  # spooled, and the journal folded into the file
    spool_file = running.workdir / "spool.db"
    with spool_file.open("r+b") as damaged:
        damaged.write(b"\xff" * 100)

    prometheus.start()
    running.start()
    quarantined = running.status()["spool"]["quarantined"]
    assert quarantined["error"] == "file is not a database"
    assert quarantined["kept_as"] == f"{spool_file}.corrupt"
    assert running.metric("collector_spool_quarantines_total") == 1
    assert "set it aside" in running.log()
    running.post(login(5))
    running.flush()
    eventually(lambda: prometheus.query("login_total") != [], what="a sample after the damage")
    assert prometheus.samples("login_total") == [5.0]


def test_sigterm_pushes_what_is_buffered_and_exits_0(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(**remote_write(prometheus.url, push_interval_seconds=3600))
    running.start()
    running.post(login(4))
    assert running.stop(signal.SIGTERM) == 0
    assert prometheus.samples("login_total") == [4.0]


def test_sigterm_during_an_outage_spools_within_the_grace_period_for_the_next_start(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    settings = remote_write(prometheus.url, push_interval_seconds=3600)
    running = sidecar(server={"shutdown_grace_seconds": 2}, **settings)
    running.start()
    prometheus.stop()
    running.post(login(6))
    started = time.monotonic()
    assert running.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    prometheus.start()
    running.start()
    eventually(lambda: prometheus.query("login_total") != [], what="the spooled sample")
    assert prometheus.samples("login_total") == [6.0]
