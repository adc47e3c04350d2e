"""Remote write 2.0: the Request on the wire, read by an independent decoder, and the
negotiation with a receiver that speaks only 1.0, against a receiver that answers as the
specification says (415, or a 2xx without the written-count headers, or a partial write)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry
from tests.wire import decode_v2_request, decode_write_request

from pulse_sidecar import config, samples, telemetry
from pulse_sidecar.sinks import http, remote_write, remote_write_v2

STALE = float.fromhex("0x7ff0000000000002")


def sample(
    name: str, value: float, timestamp_ms: int = 1_000, kind: str = "gauge", **labels: str
) -> samples.Sample:
    return samples.Sample(name, tuple(sorted(labels.items())), value, timestamp_ms, name, kind)


def test_a_request_has_a_symbol_table_sorted_label_refs_and_metric_types() -> None:
    batch = [
        sample("up", 1, 2_000, job="a", Zone="z"),
        sample("up", 0, 1_000, job="a", Zone="z"),
        sample("jobs_total", 5, 1_000, kind="counter", job="a"),
        sample("mystery", 7, -5, kind="unknown"),
    ]
    symbols, series = decode_v2_request(remote_write_v2.encode(batch))
    assert symbols[0] == ""  # the specification's first symbol
    assert len(symbols) == len(set(symbols))  # each string once
    assert series == [
        ([("Zone", "z"), ("__name__", "up"), ("job", "a")], [(0.0, 1_000), (1.0, 2_000)], 2),
        ([("__name__", "jobs_total"), ("job", "a")], [(5.0, 1_000)], 1),
        ([("__name__", "mystery")], [(7.0, -5)], 0),
    ]


def random_batch(rng: random.Random) -> list[samples.Sample]:
    kinds = ["counter", "gauge", "histogram", "summary", "unknown"]
    return [
        sample(
            rng.choice(["a", "b_total", "c" * rng.randrange(1, 300)]),
            rng.choice([rng.uniform(-1e9, 1e9), STALE, 0.0]),
            rng.randrange(-(2**40), 2**41),
            rng.choice(kinds),
            **{
                f"l{j}": rng.choice(["x", "y" * rng.randrange(1, 90)])
                for j in range(rng.randrange(3))
            },
        )
        for _ in range(rng.randrange(1, 40))
    ]


def test_a_request_is_told_from_a_1_0_one_and_decoded_to_the_same_samples() -> None:
    rng = random.Random(7)
    for _ in range(300):
        batch = random_batch(rng)
        v2 = remote_write_v2.encode(batch)
        assert remote_write_v2.is_v2(v2)
        assert not remote_write_v2.is_v2(remote_write.encode(batch))
        decoded = remote_write_v2.decode(v2)
        # what a 1.0 request made from them carries is what a 1.0 request of the batch does
        assert decode_write_request(remote_write.encode(decoded)) == decode_write_request(
            remote_write.encode(batch)
        )
        assert {s.kind for s in decoded} <= {s.kind for s in batch}


class Receiver:
    """Answers as the test says, and keeps what it was sent."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.requests: list[tuple[str, str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            (
                request.headers["Content-Type"],
                request.headers["X-Prometheus-Remote-Write-Version"],
                body,
            )
        )
        status, headers = self.answers.pop(0) if self.answers else (204, {})
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    served = Receiver()
    app = web.Application()
    app.router.add_post("/api/v1/write", served.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield served, f"http://127.0.0.1:{server.port}/api/v1/write"
    finally:
        await server.close()


def sink(url: str, protocol: str) -> remote_write.RemoteWriteSink:
    settings = config.RemoteWriteSink(type="remote_write", name="rw", url=url, protocol=protocol)
    return remote_write.RemoteWriteSink(settings, telemetry.Telemetry(CollectorRegistry()))


WRITTEN_ONE = {"X-Prometheus-Remote-Write-Samples-Written": "1"}
BATCH = [sample("up", 1, job="a")]


async def test_a_2_0_receiver_gets_2_0_with_the_negotiation_headers(
    receiver: tuple[Receiver, str],
) -> None:
    served, url = receiver
    served.answers = [(204, WRITTEN_ONE)]
    writer = sink(url, "2.0")
    await writer.write(writer.encode(BATCH))
    await writer.close()
    ((content_type, version, body),) = served.requests
    assert content_type == "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    assert version == "2.0.0"
    assert decode_v2_request(body)[1] == [([("__name__", "up"), ("job", "a")], [(1.0, 1_000)], 2)]
    assert writer.protocol == "2.0"


@pytest.mark.parametrize(
    "answer", [(415, {}), (204, {})], ids=["415", "2xx without written counts"]
)
async def test_a_1_0_receiver_gets_the_same_samples_again_as_1_0_and_1_0_from_then_on(
    receiver: tuple[Receiver, str], answer: tuple[int, dict[str, str]]
) -> None:
    served, url = receiver
    served.answers = [answer]
    writer = sink(url, "2.0")
    spooled = writer.encode(BATCH)  # encoded as 2.0 before anyone knew
    await writer.write(spooled)
    assert writer.protocol == "1.0"
    later = writer.encode([sample("up", 0, 2_000, job="a")])
    assert not remote_write_v2.is_v2(later)
    await writer.write(later)
    await writer.write(spooled)  # a 2.0 body from the spool, after the fallback
    await writer.close()
    assert [(t, v) for t, v, _ in served.requests] == [
        ("application/x-protobuf;proto=io.prometheus.write.v2.Request", "2.0.0"),
        ("application/x-protobuf", "0.1.0"),
        ("application/x-protobuf", "0.1.0"),
        ("application/x-protobuf", "0.1.0"),
    ]
    resent = [decode_write_request(body) for _, _, body in served.requests[1:]]
    assert resent[0] == resent[2] == [([("__name__", "up"), ("job", "a")], [(1.0, 1_000)])]


async def test_a_partial_write_says_how_many_samples_were_stored(
    receiver: tuple[Receiver, str],
) -> None:
    served, url = receiver
    served.answers = [(400, WRITTEN_ONE)]
    writer = sink(url, "2.0")
    with pytest.raises(http.SinkError) as refused:
        await writer.write(writer.encode([*BATCH, sample("up", 1, job="b")]))
    await writer.close()
    assert refused.value.reason == "http_400"
    assert refused.value.written == 1
    assert writer.protocol == "2.0"
