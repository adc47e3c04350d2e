"""Clients that drip bytes: the real sidecar cuts them off after its read timeout, and keeps
answering everyone else meanwhile."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

from sidecar_upstreams import Sidecar, http_get

READ_TIMEOUT_SECONDS = 1.0
DRIPPERS = 50
DRIP_SECONDS = 0.2


def _drip(port: int, head: bytes, body: bytes, outcome: list[tuple[float, bytes]]) -> None:
    """Sends `head` whole, then `body` a byte every DRIP_SECONDS until the server answers
    or closes; records when, and what it answered."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.settimeout(DRIP_SECONDS)
        answer = b""
        try:
            connection.sendall(head)
            for byte in body:
                connection.sendall(bytes([byte]))
                with contextlib.suppress(TimeoutError):
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                    break
        except OSError:  # reset by the server
            pass
        outcome.append((time.monotonic() - started, answer))


@contextlib.contextmanager
def _dripping(port: int, head: bytes, body: bytes) -> Iterator[list[tuple[float, bytes]]]:
    """DRIPPERS clients at once; on exit, each one's outcome."""
    outcomes: list[tuple[float, bytes]] = []
    threads = [
        threading.Thread(target=_drip, args=(port, head, body, outcomes)) for _ in range(DRIPPERS)
    ]
    for thread in threads:
        thread.start()
    yield outcomes
    for thread in threads:
        thread.join(timeout=60)


def _health_latencies(url: str, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        assert http_get(f"{url}/health")[0] == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.1)
    return latencies


def test_a_client_dripping_its_request_head_is_disconnected(
    sidecar: Callable[..., Sidecar],
) -> None:
    running = sidecar(server={"read_timeout_seconds": READ_TIMEOUT_SECONDS})
    running.start()
    head = b"GET /health HTTP/1.1\r\n"
    dripped = b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"  # 40 s at a byte every 0.2 s
    with _dripping(running.port, head, dripped) as finished:
        latencies = _health_latencies(running.url, 2 * READ_TIMEOUT_SECONDS)
    assert len(finished) == DRIPPERS
    assert max(seconds for seconds, _ in finished) < 3 * READ_TIMEOUT_SECONDS + 1
    assert all(b"200 OK" not in answer for _, answer in finished)
    assert max(latencies) < 0.5


def test_a_client_dripping_its_body_gets_408(sidecar: Callable[..., Sidecar]) -> None:
    running = sidecar(server={"read_timeout_seconds": READ_TIMEOUT_SECONDS})
    running.start()
    body = b'{"service": "checkout", "metrics": [' + b" " * 200 + b"]}"
    head = (
        f"POST /metrics HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _dripping(running.port, head, body) as finished:
        latencies = _health_latencies(running.url, 2 * READ_TIMEOUT_SECONDS)
    assert len(finished) == DRIPPERS
    assert max(seconds for seconds, _ in finished) < 3 * READ_TIMEOUT_SECONDS + 1
    assert all(answer.startswith(b"HTTP/1.1 408") for _, answer in finished), finished[:3]
    assert max(latencies) < 0.5
