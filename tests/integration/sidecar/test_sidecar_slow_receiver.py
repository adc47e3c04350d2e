"""A slow receiver: a real Prometheus behind a proxy that stores each request at once but
answers late. Remote write 1.0 asks that requests for a series never overlap or go out of
order; Prometheus refuses a whole request (400) for one sample older than what it holds, so
a request that mixes a possibly stored batch with newer samples loses the newer ones.
Every sample here is numbered, and the proxy sees every answer Prometheus gives."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
from pulse_devcluster.loopback import serve
from sidecar_upstreams import Prometheus, Proxy, Sidecar
from tests.support import eventually

ROUNDS = 10
SLOW_ANSWER_SECONDS = 1.5


@dataclass
class Ticker:
    """A target whose counter `ticks_total` counts the scrapes it answered."""

    served: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, _: BaseHTTPRequestHandler) -> bytes:
        with self.lock:
            tick = len(self.served) + 1
            self.served.append((time.monotonic(), tick))
        return f"# TYPE ticks counter\nticks_total {tick}\n".encode()


@pytest.fixture
def ticker() -> Iterator[tuple[Ticker, int]]:
    counting = Ticker()
    with serve(counting.answer) as port:
        yield counting, port


@pytest.fixture
def slow_receiver(prometheus: Prometheus, proxy_to: Callable[[str], Proxy]) -> Proxy:
    """The real Prometheus behind a proxy that stores each request at once and answers
    SLOW_ANSWER_SECONDS later."""
    proxy = proxy_to(prometheus.url)
    proxy.delay = SLOW_ANSWER_SECONDS
    return proxy


def settings(proxy: Proxy, port: int, **sink: float) -> dict[str, object]:
    return {
        "ingest": {"interval_seconds": 0.2},
        "scrape": [{"name": "app", "port": port, "interval_seconds": 0.2, "timeout_seconds": 0.2}],
        "sinks": [
            {
                "type": "remote_write",
                "url": f"{proxy.url}/api/v1/write",
                "push_interval_seconds": 0.3,
                "max_samples_per_send": 500,
                "retry": {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2},
                **sink,
            }
        ],
    }


def post_numbered(running: Sidecar, first: int, count: int) -> list[int]:
    """Posts events `first`..`first + count - 1`, each its own series; returns those taken."""
    taken = []
    for number in range(first, first + count):
        running.post({"type": "order", "value": 1, "dimensions": {"n": str(number)}})
        taken.append(number)
    return taken


def refused(proxy: Proxy) -> list[int]:
    return [r.status for r in proxy.requests if 400 <= r.status < 500]


def refused_new_requests(proxy: Proxy) -> list[int]:
    """The 4xx answers to requests the receiver had not seen before. A request sent again
    after it went unanswered is refused when the first copy was stored and held two samples
    of a series (Prometheus takes a repeat of only its newest sample): nothing is lost."""
    seen: set[bytes] = set()
    refusals = []
    for request in proxy.requests:
        if 400 <= request.status < 500 and request.body not in seen:
            refusals.append(request.status)
        seen.add(request.body)
    return refusals


def delivered_events(prometheus: Prometheus) -> set[int]:
    return {int(labels["n"]) for labels in (r["metric"] for r in prometheus.query("order_total"))}


def missing_ticks(prometheus: Prometheus, ticker: Ticker, cut: Callable[[float], bool]) -> set[int]:
    """Ticks served that Prometheus lacks, except those served where `cut` says a scrape
    may rightly have been abandoned (a SIGTERM)."""
    stored = {int(float(v)) for r in prometheus.query("ticks_total[1h]") for _, v in r["values"]}
    return {tick for at, tick in ticker.served if tick not in stored and not cut(at)}


def drain(running: Sidecar, proxy: Proxy) -> None:
    """A last run with a prompt receiver, until the spool is empty."""
    proxy.delay = 0.0
    running.start()
    eventually(lambda: running.status()["spool"]["samples"] == 0, 30, "the spool replayed")
    assert running.stop(signal.SIGTERM) == 0


def test_sigterm_during_slow_pushes_loses_nothing_and_sends_nothing_out_of_order(
    prometheus: Prometheus,
    sidecar: Callable[..., Sidecar],
    slow_receiver: Proxy,
    ticker: tuple[Ticker, int],
) -> None:
    counting, port = ticker
    proxy = slow_receiver
    running = sidecar(**settings(proxy, port))
    posted: list[int] = []
    sigterms: list[float] = []
    for _ in range(ROUNDS):
        running.start()
        posted += post_numbered(running, len(posted), 20)
        time.sleep(0.4)  # a push is under way: each takes the answer's 1.5 s
        posted += post_numbered(running, len(posted), 20)
        sigterms.append(time.monotonic())
        assert running.stop(signal.SIGTERM) == 0
    drain(running, proxy)

    assert refused(proxy) == [], "Prometheus refused requests (out of order?)"
    assert delivered_events(prometheus) == set(posted)

    def near_a_sigterm(served_at: float) -> bool:
        return any(abs(stop - served_at) < 0.5 for stop in sigterms)

    assert missing_ticks(prometheus, counting, near_a_sigterm) == set()


def test_a_receiver_that_stores_but_answers_after_the_timeout_loses_nothing(
    prometheus: Prometheus,
    sidecar: Callable[..., Sidecar],
    slow_receiver: Proxy,
    ticker: tuple[Ticker, int],
) -> None:
    counting, port = ticker
    proxy = slow_receiver
    running = sidecar(**settings(proxy, port, timeout_seconds=1.0))
    running.start()
    posted: list[int] = []
    for _ in range(10):
        posted += post_numbered(running, len(posted), 20)
        time.sleep(0.5)
    stopped = time.monotonic()
    assert running.stop(signal.SIGTERM) == 0
    drain(running, proxy)

    assert refused_new_requests(proxy) == [], "Prometheus refused new samples (out of order?)"
    assert delivered_events(prometheus) == set(posted)
    assert missing_ticks(prometheus, counting, lambda at: abs(stopped - at) < 0.5) == set()
