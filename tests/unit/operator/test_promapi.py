"""The reader of a Prometheus HTTP API against a real HTTP server on loopback that answers
as Prometheus does, and as a slow, failing or hostile one might."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pulse_operator.promapi import PULSE_SERIES, Limits, PrometheusAPI, Snapshots

RULES = {
    "status": "success",
    "data": {
        "groups": [
            {
                "name": "pulse-slo-api",
                "file": "/etc/prometheus/rules/prometheus-k8s-rulefiles-0/"
                "shop-api-slo-0b4a3c1e-2f6d-4e8a-9c1b-7d5e3f2a1b0c.yaml",
                "lastEvaluation": "2026-12-02T15:00:00Z",
                "rules": [
                    {"name": "pulse_slo:sli_error:ratio", "health": "ok", "type": "recording"},
                    {
                        "name": "SLOErrorBudgetBurn",
                        "health": "err",
                        "lastError": "many-to-many matching not allowed",
                        "type": "alerting",
                    },
                    {"name": "SLOErrorBudgetBurn", "health": "unknown", "type": "alerting"},
                ],
            },
            {
                "name": "fresh",
                "file": "/rules/x.yaml",
                "lastEvaluation": "0001-01-01T00:00:00Z",
                "rules": [],
            },
        ]
    },
}
QUERY = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {
                "metric": {
                    "__name__": "pulse_slo:error_budget_remaining:ratio",
                    "namespace": "shop",
                    "slo": "api",
                },
                "value": [1764687600.0, "0.75"],
            },
            {
                "metric": {
                    "__name__": "pulse_slo:current_burn_rate:ratio",
                    "namespace": "shop",
                    "slo": "api",
                },
                "value": [1764687600.0, "NaN"],
            },
        ],
    },
}

Handler = Callable[[web.Request], Any]


class FakePrometheus:
    """A Prometheus HTTP API whose answers a test decides, counting the requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.rules: Handler = lambda _: web.json_response(RULES)
        self.query: Handler = lambda _: web.json_response(QUERY)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query)))
        handler = self.rules if request.path == "/api/v1/rules" else self.query
        result = handler(request)
        return await result if asyncio.iscoroutine(result) else result


@pytest.fixture
async def prometheus() -> AsyncIterator[tuple[FakePrometheus, str]]:
    fake = FakePrometheus()
    app = web.Application()
    app.router.add_get("/api/v1/{endpoint}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://127.0.0.1:{server.port}/"
    finally:
        await server.close()


async def test_a_snapshot_holds_the_rule_groups_and_the_pulse_series(
    prometheus: tuple[FakePrometheus, str],
) -> None:
    fake, url = prometheus
    snapshot = await PrometheusAPI(url, Limits()).snapshot()
    assert snapshot.error is None
    assert snapshot.source == f"Prometheus at {url.rstrip('/')}"
    api, fresh = snapshot.groups
    assert (api.name, api.rules, api.evaluated) == ("pulse-slo-api", 3, True)
    assert api.unhealthy == ("SLOErrorBudgetBurn: many-to-many matching not allowed",)
    assert fresh.evaluated is False
    values = snapshot.series[("shop", "api")]
    assert values["pulse_slo:error_budget_remaining:ratio"] == 0.75
    assert (
        values["pulse_slo:current_burn_rate:ratio"] != values["pulse_slo:current_burn_rate:ratio"]
    )
    assert fake.requests == [("/api/v1/rules", {}), ("/api/v1/query", {"query": PULSE_SERIES})]


async def test_a_prometheus_that_does_not_answer_in_time_is_an_error_in_time(
    prometheus: tuple[FakePrometheus, str],
) -> None:
    fake, url = prometheus

    async def hang(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response(RULES)

    fake.rules = hang
    started = time.monotonic()
    snapshot = await PrometheusAPI(url, Limits(timeout_seconds=0.5)).snapshot()
    assert time.monotonic() - started < 5
    assert snapshot.error == f"Prometheus at {url.rstrip('/')}: no answer within 0.5 s"
    assert snapshot.groups == ()


@pytest.mark.parametrize(
    ("endpoint", "answer", "said"),
    [
        (
            "rules",
            lambda _: web.json_response(
                {"status": "error", "errorType": "bad_data", "error": "parse error"}, status=400
            ),
            "HTTP 400: parse error",
        ),
        ("rules", lambda _: web.Response(status=500, text="<html>oops</html>"), "HTTP 500, not a"),
        (
            "rules",
            lambda _: web.json_response({"status": "success", "data": {"groups": 3}}),
            "without groups",
        ),
        (
            "query",
            lambda _: web.json_response({"status": "success", "data": {"resultType": "matrix"}}),
            "a matrix where a vector",
        ),
    ],
    ids=["api-error", "html-500", "wrong-shape-rules", "wrong-result-type"],
)
async def test_an_answer_that_cannot_be_used_says_why(
    prometheus: tuple[FakePrometheus, str], endpoint: str, answer: Handler, said: str
) -> None:
    fake, url = prometheus
    setattr(fake, endpoint, answer)
    snapshot = await PrometheusAPI(url, Limits()).snapshot()
    assert snapshot.error is not None
    assert said in snapshot.error


async def test_nobody_listening_is_an_error_not_an_exception() -> None:
    snapshot = await PrometheusAPI("http://127.0.0.1:9", Limits(timeout_seconds=2)).snapshot()
    assert snapshot.error is not None
    assert snapshot.error.startswith("Prometheus at http://127.0.0.1:9: ")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_answer_is_dropped_as_it_streams_and_memory_stays_small(
    prometheus: tuple[FakePrometheus, str], declared: bool
) -> None:
    fake, url = prometheus
    chunk = b'{"status":"success","data":{"groups":[' + b" " * (2**20 - 40)
    total = 64  # MiB offered

    async def flood(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        if declared:
            response.content_length = total * len(chunk)
        await response.prepare(request)
        try:
            for _ in range(total):
                await response.write(chunk)
        except (ConnectionResetError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    fake.rules = flood
    tracemalloc.start()
    try:
        snapshot = await PrometheusAPI(url, Limits(max_bytes=2**20)).snapshot()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert snapshot.error is not None
    assert "over 1048576" in snapshot.error
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB while refusing a 64 MiB answer"


async def test_everyone_in_a_period_shares_one_snapshot_and_a_failure_is_not_retried(
    prometheus: tuple[FakePrometheus, str],
) -> None:
    fake, url = prometheus
    now = [1000.0]
    snapshots = Snapshots(PrometheusAPI(url, Limits(period_seconds=300)), clock=lambda: now[0])
    taken = await asyncio.gather(*(snapshots.current() for _ in range(50)))
    assert len(fake.requests) == 2
    assert all(s is taken[0] for s in taken)

    fake.rules = lambda _: web.Response(status=503, text=json.dumps({"status": "error"}))
    now[0] += 299
    assert (await snapshots.current()).error is None
    now[0] += 1
    failed = await snapshots.current()
    assert failed.error is not None
    assert "HTTP 503" in failed.error
    now[0] += 100
    assert await snapshots.current() is failed
    assert len(fake.requests) == 3  # the failed fetch stopped after its first request
