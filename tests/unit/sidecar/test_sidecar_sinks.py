"""The sinks over HTTP against a fake upstream: headers, credentials, and what answers mean."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry
from tests.wire import submessages

from pulse_sidecar import config, samples, telemetry
from pulse_sidecar.sinks import http, otlp, pushgateway, remote_write


class Upstream:
    """Records requests and answers with the next scripted (status, headers)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            (request.method, request.path, dict(request.headers), await request.read())
        )
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return web.Response(status=status, headers=headers, text="upstream says no")


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    fake = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


def metrics() -> telemetry.Telemetry:
    return telemetry.Telemetry(CollectorRegistry())


BATCH = [samples.Sample("up", (("job", "a"),), 1.0, 1_000, "up", "gauge")]


async def test_remote_write_posts_snappy_protobuf_with_the_required_headers(
    upstream: tuple[Upstream, str],
) -> None:
    fake, base = upstream
    settings = config.RemoteWriteSink(type="remote_write", url=f"{base}/api/v1/write")
    sink = remote_write.RemoteWriteSink(settings, metrics())
    await sink.write(sink.encode(BATCH))
    await sink.close()
    ((method, path, headers, body),) = fake.requests
    assert (method, path) == ("POST", "/api/v1/write")
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert headers["User-Agent"].startswith("pulse-sidecar/")
    assert body == remote_write.encode(BATCH)


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (404, False), (429, True), (500, True), (503, True)]
)
async def test_remote_write_classifies_answers(
    upstream: tuple[Upstream, str], status: int, retryable: bool
) -> None:
    fake, base = upstream
    fake.answers = [(status, {"Retry-After": "7"})]
    sink = remote_write.RemoteWriteSink(
        config.RemoteWriteSink(type="remote_write", url=f"{base}/w"), metrics()
    )
    with pytest.raises(http.SinkError) as failed:
        await sink.write(b"x")
    await sink.close()
    assert failed.value.retryable is retryable
    assert failed.value.retry_after == 7
    assert failed.value.reason == f"http_{status}"
    assert "upstream says no" in str(failed.value)


async def test_otlp_retries_502_but_not_500(upstream: tuple[Upstream, str]) -> None:
    fake, base = upstream
    fake.answers = [(500, {}), (502, {})]
    sink = otlp.OtlpSink(config.OtlpSink(type="otlp", url=f"{base}/v1/metrics"), metrics())
    outcomes = []
    for _ in range(2):
        with pytest.raises(http.SinkError) as failed:
            await sink.write(sink.encode(BATCH))
        outcomes.append(failed.value.retryable)
    await sink.close()
    assert outcomes == [False, True]
    assert fake.requests[0][2]["Content-Type"] == "application/x-protobuf"
    assert submessages(fake.requests[0][3], 1)


async def test_an_unreachable_sink_is_a_retryable_connection_error(unused_tcp_port: int) -> None:
    settings = config.RemoteWriteSink(
        type="remote_write", url=f"http://127.0.0.1:{unused_tcp_port}"
    )
    sink = remote_write.RemoteWriteSink(settings, metrics())
    with pytest.raises(http.SinkError) as failed:
        await sink.write(b"x")
    await sink.close()
    assert (failed.value.reason, failed.value.retryable) == ("connection", True)


async def test_credentials_are_read_from_files_at_each_request(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    fake, base = upstream
    token = tmp_path / "token"
    token.write_text("first\n")
    settings = config.RemoteWriteSink(type="remote_write", url=f"{base}/w", bearer_token_file=token)
    sink = remote_write.RemoteWriteSink(settings, metrics())
    await sink.write(b"x")
    token.write_text("rotated")
    await sink.write(b"x")
    token.unlink()
    with pytest.raises(http.SinkError) as failed:
        await sink.write(b"x")
    await sink.close()
    assert [r[2]["Authorization"] for r in fake.requests] == ["Bearer first", "Bearer rotated"]
    assert (failed.value.reason, failed.value.retryable) == ("credentials", True)


async def test_basic_auth_comes_from_two_files(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    fake, base = upstream
    (tmp_path / "user").write_text("pulse")
    (tmp_path / "password").write_text("s3cret")
    settings: dict[str, Any] = {
        "type": "pushgateway",
        "url": base,
        "basic_auth": {"username_file": tmp_path / "user", "password_file": tmp_path / "password"},
    }
    identity = config.CollectorIdentity(name="checkout", namespace="shop", pod="p-1")
    sink = pushgateway.PushgatewaySink(
        config.PushgatewaySink.model_validate(settings), identity, metrics()
    )
    await sink.write(sink.encode(BATCH))
    await sink.delete()
    await sink.close()
    assert [(m, p) for m, p, _, _ in fake.requests] == [
        ("PUT", "/metrics/job/checkout/namespace/shop/pod/p-1"),
        ("DELETE", "/metrics/job/checkout/namespace/shop/pod/p-1"),
    ]
    assert fake.requests[0][2]["Authorization"] == "Basic cHVsc2U6czNjcmV0"


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert http.retry_after_seconds("120") == 120
    assert http.retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert http.retry_after_seconds("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0
    assert http.retry_after_seconds("soon") is None
    assert http.retry_after_seconds(None) is None
