"""One target cannot take what the others need: a target serving far more series than its
sample limit and one whose body never ends fail their own scrapes, while a healthy target
beside them is scraped on every interval and reaches a real Prometheus, and the sidecar's
memory stays bounded."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pulse_devcluster import exposition
from sidecar_upstreams import Prometheus, Sidecar
from test_sidecar_remote_write import remote_write
from tests.support import eventually

HUGE_SERIES = 300_000
"""Six times the default sample limit: about 12 MB of exposition."""


@contextlib.contextmanager
def never_ending_body() -> Iterator[int]:
    """A target whose body (close-delimited, no Content-Length) goes on until the client
    hangs up."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            chunk = b"".join(b'endless_total{n="%d"} 1\n' % n for n in range(10_000))
            with contextlib.suppress(OSError):
                while True:
                    self.wfile.write(chunk)

        def log_message(self, *_: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, *_: Any) -> None:
            return None  # the sidecar hanging up is the point

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def targets() -> Iterator[dict[str, int]]:
    huge = "# TYPE huge_total counter\n" + "".join(
        f'huge_total{{shard="s{i % 100}",id="{i}"}} {i}\n' for i in range(HUGE_SERIES)
    )
    healthy = "# TYPE healthy_depth gauge\n" + "".join(
        f'healthy_depth{{queue="q{i}"}} {i}\n' for i in range(100)
    )
    with contextlib.ExitStack() as stack:
        yield {
            "huge": stack.enter_context(exposition.serving(huge.encode())),
            "endless": stack.enter_context(never_ending_body()),
            "healthy": stack.enter_context(exposition.serving(healthy.encode())),
        }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_targets_over_their_limits_fail_alone_and_memory_stays_bounded(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar], targets: dict[str, int]
) -> None:
    scrape = [
        {"name": name, "port": port, "interval_seconds": 1, "timeout_seconds": 1}
        for name, port in targets.items()
    ]
    running = sidecar(scrape=scrape, **remote_write(prometheus.url))
    running.start()

    def collections(source: str, result: str) -> float:
        line = f'collector_collections_total{{result="{result}",source="scrape/{source}"}}'
        return running.metric(line) or 0.0

    eventually(lambda: collections("healthy", "success") >= 8, timeout=60, what="8 scrapes")
    assert collections("healthy", "failure") == 0
    assert collections("huge", "success") == collections("endless", "success") == 0
    errors = {
        name: running.metric(
            f'collector_errors_total{{component="scrape/{name}",reason="{reason}"}}'
        )
        for name, reason in (("huge", "sample_limit"), ("endless", "body_size_limit"))
    }
    assert all(count and count >= 4 for count in errors.values()), errors
    status = {source["name"]: source for source in running.status()["sources"]}
    assert "more than 50000 samples" in status["scrape/huge"]["last_error"]
    assert "larger than 16777216 bytes" in status["scrape/endless"]["last_error"]
    assert status["scrape/healthy"]["up"] is True

    eventually(lambda: len(prometheus.query("healthy_depth")) == 100, what="the healthy series")
    assert prometheus.query("huge_total") == []
    assert prometheus.query("endless_total") == []
    assert running.process is not None
    peak = peak_rss_mib(running.process.popen.pid)
    print(f"\nsidecar peak RSS with a {HUGE_SERIES}-series and an endless target: {peak:.0f} MiB")
    assert peak < 200, f"peak RSS {peak:.0f} MiB: the default 256 MiB limit leaves no room"
