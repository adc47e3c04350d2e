"""A stand-in application that serves a fixed Prometheus text exposition on loopback,
for the sidecar's scrape tests and benchmarks."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http import server
from typing import Any


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[int]:
    """Serves `body` as text/plain; version=0.0.4 on 127.0.0.1; yields the port."""

    class Handler(server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape a second would flood the test output

    listening = server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=listening.serve_forever, daemon=True).start()
    try:
        yield int(listening.server_address[1])
    finally:
        listening.shutdown()
        listening.server_close()
