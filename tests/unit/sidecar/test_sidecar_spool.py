"""The durable spool: order, a cursor that survives a restart, and counted drops when full."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pulse_sidecar import spool, telemetry


async def open_spool(
    path: Path, max_bytes: int = 1_000_000
) -> tuple[spool.Spool, CollectorRegistry]:
    registry = CollectorRegistry()
    durable = spool.Spool(path, max_bytes, telemetry.Telemetry(registry))
    await durable.open(["a", "b"])
    return durable, registry


async def drain(durable: spool.Spool, sink: str) -> list[bytes]:
    seen = []
    while (batch := await durable.first(sink)) is not None:
        seen.append(batch.payload)
        await durable.ack(sink, batch)
    return seen


async def test_batches_come_back_in_order_per_sink(tmp_path: Path) -> None:
    durable, _ = await open_spool(tmp_path / "spool.db")
    await durable.append("a", [(b"a1", 1), (b"a2", 2)])
    await durable.append("b", [(b"b1", 5)])
    await durable.append("a", [(b"a3", 3)])
    assert (durable.samples("a"), durable.samples("b")) == (6, 5)
    assert await drain(durable, "a") == [b"a1", b"a2", b"a3"]
    assert await drain(durable, "b") == [b"b1"]
    assert durable.size_bytes == 0
    await durable.close()


async def test_a_restart_resumes_after_the_last_acknowledged_batch(tmp_path: Path) -> None:
    durable, _ = await open_spool(tmp_path / "spool.db")
    await durable.append("a", [(b"one", 1), (b"two", 1), (b"three", 1)])
    first = await durable.first("a")
    assert first is not None
    await durable.ack("a", first)
    await durable.close()

    reopened, registry = await open_spool(tmp_path / "spool.db")
    assert reopened.samples("a") == 2
    assert reopened.size_bytes == len(b"two") + len(b"three")
    assert registry.get_sample_value("collector_spool_samples", {"sink": "a"}) == 2
    assert await drain(reopened, "a") == [b"two", b"three"]
    await reopened.close()


async def test_a_batch_read_but_not_acknowledged_is_read_again(tmp_path: Path) -> None:
    """At-least-once: a crash between sending and acknowledging resends that one batch."""
    durable, _ = await open_spool(tmp_path / "spool.db")
    await durable.append("a", [(b"one", 1), (b"two", 1)])
    assert (await durable.first("a")) == (await durable.first("a"))
    await durable.close()
    reopened, _ = await open_spool(tmp_path / "spool.db")
    assert await drain(reopened, "a") == [b"one", b"two"]
    await reopened.close()


async def test_when_full_the_oldest_batches_are_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    durable, registry = await open_spool(tmp_path / "spool.db", max_bytes=2048)
    await durable.append("a", [(b"x" * 1000, 10)])
    await durable.append("b", [(b"y" * 1000, 20)])
    await durable.append("a", [(b"z" * 1000, 30)])
    assert durable.size_bytes == 2000
    assert (
        registry.get_sample_value(
            "collector_samples_dropped_total", {"sink": "a", "reason": "spool_full"}
        )
        == 10
    )
    assert registry.get_sample_value("collector_spool_bytes") == 2000
    assert await drain(durable, "a") == [b"z" * 1000]
    assert await drain(durable, "b") == [b"y" * 1000]
    assert "spool full" in caplog.text
    await durable.close()


async def test_batches_of_sinks_no_longer_configured_are_dropped_and_counted(
    tmp_path: Path,
) -> None:
    durable, _ = await open_spool(tmp_path / "spool.db")
    await durable.append("a", [(b"kept", 1)])
    await durable.append("b", [(b"orphan", 4)])
    await durable.close()
    registry = CollectorRegistry()
    reopened = spool.Spool(tmp_path / "spool.db", 1_000_000, telemetry.Telemetry(registry))
    await reopened.open(["a"])
    assert (reopened.samples("a"), reopened.samples("b")) == (1, 0)
    assert reopened.size_bytes == len(b"kept")
    assert (
        registry.get_sample_value(
            "collector_samples_dropped_total", {"sink": "b", "reason": "sink_removed"}
        )
        == 4
    )
    await reopened.close()


def finish_on_thread(durable: spool.Spool) -> None:
    """Holds the event loop until the spool's thread has done every job it was given."""
    durable._executor.submit(lambda: None).result()


async def test_the_counters_change_on_the_loop_not_on_the_spool_thread(tmp_path: Path) -> None:
    """A job done on the spool's thread changes nothing the loop reads until the loop applies
    its delta, so the counters are only ever written on the loop."""
    durable, _ = await open_spool(tmp_path / "spool.db")
    appending = asyncio.create_task(durable.append("a", [(b"12345", 3)]))
    await asyncio.sleep(0)
    finish_on_thread(durable)
    assert (durable.size_bytes, durable.samples("a")) == (0, 0)
    await appending
    assert (durable.size_bytes, durable.samples("a")) == (5, 3)
    sending = await durable.first("a")
    assert sending is not None
    acking = asyncio.create_task(durable.ack("a", sending))
    await asyncio.sleep(0)
    finish_on_thread(durable)
    assert (durable.size_bytes, durable.samples("a")) == (5, 3)
    await acking
    assert (durable.size_bytes, durable.samples("a")) == (0, 0)
    await durable.close()


async def test_an_append_cancelled_on_the_thread_is_still_counted(tmp_path: Path) -> None:
    """The thread finishes a job whose caller was cancelled; the counters must follow."""
    durable, _ = await open_spool(tmp_path / "spool.db")
    appending = asyncio.create_task(durable.append("a", [(b"12345", 3)]))
    await asyncio.sleep(0)
    appending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await appending
    await durable.append("b", [(b"later", 1)])  # done after it, on the same thread
    assert (durable.size_bytes, durable.samples("a")) == (10, 3)
    assert await drain(durable, "a") == [b"12345"]
    await durable.close()


async def test_acknowledging_a_batch_dropped_meanwhile_uncounts_nothing(tmp_path: Path) -> None:
    """The replayed batch can be dropped, as the oldest, while it is being sent."""
    durable, _ = await open_spool(tmp_path / "spool.db", max_bytes=2048)
    await durable.append("a", [(b"x" * 1000, 10)])
    sending = await durable.first("a")
    assert sending is not None
    await durable.append("b", [(b"y" * 1000, 20)])
    await durable.append("b", [(b"z" * 1000, 30)])  # full: the batch being sent is dropped
    await durable.ack("a", sending)
    assert (durable.size_bytes, durable.samples("a"), durable.samples("b")) == (2000, 0, 50)
    await durable.close()
