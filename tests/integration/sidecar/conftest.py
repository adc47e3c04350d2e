"""Fixtures for the sidecar's integration tests; each process is stopped whatever the outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http import server
from pathlib import Path
from typing import Any

import pytest
from pulse_devcluster import paths, processes
from sidecar_upstreams import Prometheus, Proxy, Recorded, Sidecar, http_get
from tests.support import eventually


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    running = Prometheus(workdir)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    binary = paths.binary("pushgateway")
    port = processes.free_port()
    workdir = tmp_path / "pushgateway"
    workdir.mkdir()
    process = processes.ManagedProcess.start(
        "pushgateway", [binary, f"--web.listen-address=127.0.0.1:{port}"], workdir
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            process.ensure_running()
            return http_get(f"{url}/-/ready")[0] == 200

        eventually(ready, what="the Pushgateway to be ready")
        yield url
    finally:
        process.stop()


@pytest.fixture
def proxy_to() -> Iterator[Callable[[str], Proxy]]:
    servers: list[server.ThreadingHTTPServer] = []

    def make(upstream: str) -> Proxy:
        proxy = Proxy(upstream)

        class Handler(server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                forwarded = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                status = proxy.respond(self.path, forwarded, body)
                proxy.requests.append(Recorded(time.monotonic(), status, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        listening = server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        proxy.port = listening.server_address[1]
        threading.Thread(target=listening.serve_forever, daemon=True).start()
        servers.append(listening)
        return proxy

    try:
        yield make
    finally:
        for listening in servers:
            listening.shutdown()
            listening.server_close()


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Callable[..., Sidecar]]:
    """Makes (without starting) sidecars; any still running is stopped after the test."""
    made: list[Sidecar] = []

    def make(**settings: Any) -> Sidecar:
        workdir = tmp_path / f"sidecar-{len(made)}"
        workdir.mkdir()
        made.append(Sidecar(workdir, settings))
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            if each.process is not None:
                each.process.stop()
