"""Delivery with retries and the breaker, and the forwarders' queue, spool and replay."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pulse_sidecar import breaker, config, delivery, forwarder, samples, spool, telemetry
from pulse_sidecar.sinks import http, remote_write


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        self.clock.now += seconds


class FakeSink:
    """Takes batches encoded as JSON; fails as told by `failures` (one entry per call)."""

    name = "fake"
    max_samples_per_send = 3
    whole_families = True

    def __init__(self) -> None:
        self.failures: list[http.SinkError] = []
        self.delivered: list[float] = []
        self.calls = 0
        self.requests: list[list[float]] = []
        """What every call carried, answered or not."""

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return json.dumps([s.value for s in batch]).encode()

    async def write(self, body: bytes) -> None:
        self.calls += 1
        self.requests.append(json.loads(body))
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.extend(json.loads(body))

    async def close(self) -> None:
        pass


def timed_out() -> http.SinkError:
    """No answer in time: the upstream may have stored the request all the same."""
    return http.SinkError("timeout", "no answer within 10s", retryable=True)


def unavailable(retry_after: float | None = None) -> http.SinkError:
    return http.SinkError("http_503", "503", retryable=True, retry_after=retry_after)


def bad_request() -> http.SinkError:
    return http.SinkError("http_400", "400", retryable=False)


def batch(*values: float, family: str | None = None) -> list[samples.Sample]:
    """One sample per value, each its own family unless `family` is given."""
    return [
        samples.Sample(name, (), v, 0, name, "gauge")
        for v in values
        for name in [family or f"m{v:g}"]
    ]


class Rig:
    """A QueueForwarder over a FakeSink, a real breaker on a fake clock, a real spool."""

    def __init__(
        self,
        tmp_path: Path,
        max_buffered: int = 100,
        sink: FakeSink | None = None,
        **retry: float,
    ) -> None:
        self.clock = FakeClock()
        self.sleeps = Sleeps(self.clock)
        self.registry = CollectorRegistry()
        self.metrics = telemetry.Telemetry(self.registry)
        self.sink = sink or FakeSink()
        self.circuit = breaker.CircuitBreaker(
            config.CircuitBreakerConfig(jitter=0), clock=self.clock, rng=random.Random(1)
        )
        self.delivery = delivery.Delivery(
            "fake",
            self.circuit,
            config.RetryConfig.model_validate({"max_attempts": 3, **retry}),
            self.metrics,
            sleep=self.sleeps,
            rng=random.Random(1),
        )
        self.spool = spool.Spool(tmp_path / "spool.db", 10_000_000, self.metrics)
        self.forwarder = forwarder.QueueForwarder(
            "fake", self.sink, self.delivery, self.spool, max_buffered, self.metrics
        )

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:
    made = Rig(tmp_path)
    await made.spool.open(["fake"])
    return made


async def test_a_healthy_sink_gets_everything_in_order_in_chunks(rig: Rig) -> None:
    await rig.forwarder.offer(batch(1, 2))
    await rig.forwarder.offer(batch(3, 4, 5))
    assert await rig.forwarder.flush() == 5
    assert rig.sink.delivered == [1, 2, 3, 4, 5]
    assert rig.sink.calls == 2  # chunks of max_samples_per_send, cut between families
    assert rig.metric("collector_samples_sent_total", sink="fake") == 5


async def test_chunks_are_cut_only_between_families(rig: Rig) -> None:
    await rig.forwarder.offer(batch(1, 2, 3, 4, family="a") + batch(5, family="b"))
    await rig.forwarder.flush()
    assert rig.sink.calls == 2


async def test_a_sink_that_takes_families_apart_never_gets_more_than_its_limit(
    tmp_path: Path,
) -> None:
    """Remote write: a family of a million series must not become one request."""
    sink = FakeSink()
    sink.whole_families = False
    cutting = Rig(tmp_path, sink=sink)
    await cutting.spool.open(["fake"])
    await cutting.forwarder.offer(batch(1, 2, 3, 4, 5, 6, 7, family="a"))
    assert await cutting.forwarder.flush() == 7
    assert sink.requests == [[1, 2, 3], [4, 5, 6], [7]]


async def test_a_503_is_retried_with_growing_backoff(rig: Rig) -> None:
    rig.sink.failures = [unavailable(), unavailable()]
    await rig.forwarder.offer(batch(1))
    assert await rig.forwarder.flush() == 1
    assert rig.sink.calls == 3
    assert len(rig.sleeps.taken) == 2
    assert 0.25 <= rig.sleeps.taken[0] <= 0.5
    assert 0.5 <= rig.sleeps.taken[1] <= 1.0
    assert rig.metric("collector_errors_total", component="fake", reason="http_503") == 2


async def test_a_400_is_not_retried_the_batch_is_dropped_and_counted(rig: Rig) -> None:
    rig.sink.failures = [bad_request()]
    await rig.forwarder.offer(batch(1, 2))
    assert await rig.forwarder.flush() == 0
    assert rig.sink.calls == 1
    assert rig.sleeps.taken == []
    assert rig.metric("collector_samples_dropped_total", sink="fake", reason="rejected") == 2
    assert rig.spool.samples("fake") == 0
    await rig.forwarder.offer(batch(3))
    await rig.forwarder.flush()
    assert rig.sink.delivered == [3]


async def test_retry_after_is_honoured_and_a_long_one_defers_to_the_spool(rig: Rig) -> None:
    rig.sink.failures = [unavailable(retry_after=2)]
    await rig.forwarder.offer(batch(1))
    await rig.forwarder.flush()
    assert rig.sleeps.taken == [2]
    assert rig.sink.delivered == [1]

    rig.sink.failures = [unavailable(retry_after=60)]
    await rig.forwarder.offer(batch(2))
    await rig.forwarder.flush()
    assert rig.sleeps.taken == [2]  # no sleeping for a minute inside a push
    assert rig.spool.samples("fake") == 1
    rig.clock.now += 59
    assert await rig.forwarder.flush() == 0  # still inside the upstream's Retry-After
    assert rig.sink.calls == 3
    rig.clock.now += 1
    assert await rig.forwarder.flush() == 1
    assert rig.sink.delivered == [1, 2]


async def test_an_outage_spools_and_recovery_replays_everything_in_order(rig: Rig) -> None:
    rig.sink.failures = [unavailable()] * 5
    for value in range(1, 5):
        await rig.forwarder.offer(batch(value))
        await rig.forwarder.flush()
    assert rig.circuit.state is breaker.State.OPEN
    calls_when_opened = rig.sink.calls
    assert calls_when_opened == 5  # the breaker opened after 5 failures and stopped retries
    await rig.forwarder.offer(batch(5))
    await rig.forwarder.flush()
    assert rig.sink.calls == calls_when_opened  # open: not a single request
    assert rig.spool.samples("fake") == 5

    rig.clock.now += 30  # the wait is over: one trial, which succeeds, then the rest
    await rig.forwarder.offer(batch(6))
    assert await rig.forwarder.flush() == 6
    assert rig.sink.delivered == [1, 2, 3, 4, 5, 6]
    assert rig.circuit.state is breaker.State.CLOSED
    assert rig.spool.samples("fake") == 0


async def test_a_failed_trial_keeps_everything_spooled(rig: Rig) -> None:
    rig.sink.failures = [unavailable()] * 6
    for value in range(1, 6):
        await rig.forwarder.offer(batch(value))
        await rig.forwarder.flush()
    rig.clock.now += 30
    await rig.forwarder.flush()
    assert rig.sink.calls == 6  # exactly one trial
    assert rig.circuit.state is breaker.State.OPEN
    assert rig.spool.samples("fake") == 5


async def test_past_the_memory_bound_the_queue_moves_to_the_spool(tmp_path: Path) -> None:
    small = Rig(tmp_path, max_buffered=4)
    await small.spool.open(["fake"])
    await small.forwarder.offer(batch(1, 2, 3))
    assert small.spool.samples("fake") == 0
    await small.forwarder.offer(batch(4, 5))
    assert small.spool.samples("fake") == 5
    assert small.metric("collector_buffer_samples", sink="fake") == 0
    await small.forwarder.offer(batch(6))
    await small.forwarder.flush()
    assert small.sink.delivered == [1, 2, 3, 4, 5, 6]


async def test_stop_moves_what_is_queued_to_the_spool(rig: Rig) -> None:
    await rig.forwarder.offer(batch(1, 2))
    await rig.forwarder.stop()
    assert rig.spool.samples("fake") == 2


async def test_a_push_cancelled_mid_request_keeps_the_batch(rig: Rig) -> None:
    started = asyncio.Event()

    async def hang(body: bytes) -> None:
        started.set()
        await asyncio.sleep(3600)

    rig.sink.write = hang  # type: ignore[method-assign]
    await rig.forwarder.offer(batch(1, 2))
    push = asyncio.create_task(rig.forwarder.flush())
    await started.wait()
    push.cancel()
    with pytest.raises(asyncio.CancelledError):
        await push
    await rig.forwarder.stop()
    assert rig.spool.samples("fake") == 2


async def test_an_unanswered_request_goes_again_as_it_was_before_anything_newer(
    rig: Rig,
) -> None:
    """Prometheus refuses a whole request for one sample older than it holds: a request it
    may have stored must never come back merged with newer samples."""
    write = rig.sink.write

    async def time_out_while_more_arrives(body: bytes) -> None:
        if rig.sink.calls == 0:
            await rig.forwarder.offer(batch(2, 3))  # scraped while the request is out
        if rig.sink.calls < 3:
            rig.sink.calls += 1
            rig.sink.requests.append(json.loads(body))
            raise timed_out()  # every attempt of the first push
        await write(body)

    rig.sink.write = time_out_while_more_arrives  # type: ignore[method-assign]
    await rig.forwarder.offer(batch(1))
    assert await rig.forwarder.flush() == 0
    assert rig.spool.samples("fake") == 3
    rig.clock.now += 30
    assert await rig.forwarder.flush() == 3
    assert rig.sink.requests == [[1], [1], [1], [1], [2, 3]]


async def test_a_push_cancelled_mid_request_sends_that_request_again_whole(rig: Rig) -> None:
    started = asyncio.Event()
    write = rig.sink.write

    async def hang_once(body: bytes) -> None:
        if not started.is_set():
            started.set()
            await asyncio.sleep(3600)
        await write(body)

    rig.sink.write = hang_once  # type: ignore[method-assign]
    await rig.forwarder.offer(batch(1))
    push = asyncio.create_task(rig.forwarder.flush())
    await started.wait()
    push.cancel()
    with pytest.raises(asyncio.CancelledError):
        await push
    await rig.forwarder.offer(batch(2))
    assert await rig.forwarder.flush() == 2
    assert rig.sink.requests == [[1], [2]]


class LoopWatchingEncoding(FakeSink):
    """Encodes as the remote_write sink does, first waiting (2 s at most) for the event loop to
    run a callback: the loop can run it only if it is not the thread doing the encoding."""

    max_samples_per_send = 2000

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.loop_ran_meanwhile: bool | None = None

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        if self.loop_ran_meanwhile is None:
            ran = threading.Event()
            self._loop.call_soon_threadsafe(ran.set)
            self.loop_ran_meanwhile = ran.wait(2)
        return remote_write.encode(batch)


async def test_the_loop_keeps_running_while_a_spill_of_100k_samples_is_encoded(
    tmp_path: Path,
) -> None:
    """Encoding a full queue of 100k samples takes about 100 ms: ingest must not wait for it.

    Waiting for the loop rather than timing it: on a busy machine a lag probe is noise.
    """
    sink = LoopWatchingEncoding(asyncio.get_running_loop())
    big = Rig(tmp_path, max_buffered=50_000, sink=sink)
    await big.spool.open(["fake"])
    queued = [  # 1000 series, 100 points each
        samples.Sample(f"m{i % 1000}", (), float(i), i // 1000, f"m{i % 1000}", "gauge")
        for i in range(100_000)
    ]
    await big.forwarder.offer(queued)
    assert sink.loop_ran_meanwhile
    assert big.spool.samples("fake") == 100_000


class GatedEncoding(FakeSink):
    """Encoding waits for `gate`, so that a test can act while a spill is being encoded."""

    def __init__(self) -> None:
        super().__init__()
        self.encoding = threading.Event()
        self.gate = threading.Event()

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        self.encoding.set()
        self.gate.wait(5)
        return super().encode(batch)


async def test_a_spill_cancelled_while_encoding_puts_the_queue_back(tmp_path: Path) -> None:
    sink = GatedEncoding()
    small = Rig(tmp_path, max_buffered=1, sink=sink)
    await small.spool.open(["fake"])
    spilling = asyncio.create_task(small.forwarder.offer(batch(1, 2)))
    assert await asyncio.to_thread(sink.encoding.wait, 5)
    spilling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spilling
    sink.gate.set()
    await small.forwarder.stop()
    assert small.spool.samples("fake") == 2


class FakeGateway:
    name = "gateway"

    def __init__(self) -> None:
        self.pushed: list[list[float]] = []
        self.deleted = 0

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return json.dumps(sorted(s.value for s in batch)).encode()

    async def write(self, body: bytes) -> None:
        self.pushed.append(json.loads(body))

    async def delete(self) -> None:
        self.deleted += 1

    async def close(self) -> None:
        pass


async def test_the_snapshot_forwarder_pushes_latest_values_and_forgets_stale_series() -> None:
    metrics = telemetry.Telemetry(CollectorRegistry())
    gateway = FakeGateway()
    sending = delivery.Delivery(
        "gateway",
        breaker.CircuitBreaker(config.CircuitBreakerConfig()),
        config.RetryConfig(),
        metrics,
    )
    snapshot = forwarder.SnapshotForwarder("pushgateway", gateway, sending, 2, metrics)
    first = samples.Sample("a", (), 1, 0, "a", "gauge")
    second = samples.Sample("b", (), 2, 0, "b", "gauge")
    await snapshot.offer([first, second])
    await snapshot.offer([first._replace(value=10), second._replace(value=samples.STALE_NAN)])
    assert await snapshot.flush() == 1
    assert gateway.pushed == [[10]]
    await snapshot.offer([samples.Sample("c", (), 3, 0, "c", "gauge")])
    await snapshot.offer([samples.Sample("d", (), 4, 0, "d", "gauge")])  # beyond 2 series
    await snapshot.flush()
    assert gateway.pushed[-1] == [3, 10]
    await snapshot.stop()
    assert gateway.deleted == 1


async def test_a_spool_that_cannot_be_written_drops_and_counts_instead_of_losing_silently(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(sink: str, batches: object) -> None:
        raise spool.SpoolError("disk full")

    monkeypatch.setattr(rig.spool, "append", broken)
    await rig.forwarder.offer(batch(1, 2))
    await rig.forwarder.stop()
    assert rig.metric("collector_samples_dropped_total", sink="fake", reason="spool_error") == 2
