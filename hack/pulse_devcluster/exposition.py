"""A stand-in application that serves a fixed Prometheus text exposition on loopback,
for the sidecar's scrape tests and benchmarks."""

from __future__ import annotations

from contextlib import AbstractContextManager

from pulse_devcluster.loopback import serve


def serving(body: bytes) -> AbstractContextManager[int]:
    """Serves `body` as text/plain; version=0.0.4 on 127.0.0.1; yields the port."""
    return serve(lambda _: body, content_type="text/plain; version=0.0.4")
