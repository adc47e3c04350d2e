"""HTTP servers on loopback for tests, benchmarks and the demo: a port that answers every
GET and POST with what a function of the request returns."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serve(
    handle: Callable[[BaseHTTPRequestHandler], bytes],
    host: str = "127.0.0.1",
    content_type: str = "text/plain",
) -> Iterator[int]:
    """An HTTP server on a free port of `host`, answering GET and POST with
    `handle(request)`; yields the port, and stops the server on exit."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            body = handle(self)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return None  # a request a second would flood the output

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
