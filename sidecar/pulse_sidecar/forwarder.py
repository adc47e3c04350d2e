"""Per-sink forwarding: what happens to samples between the pipeline and the upstream.

Two policies, because the upstreams differ:

- `QueueForwarder` (remote_write, OTLP): every sample is owed to the upstream, in order.
  Samples wait in a bounded in-memory queue; a batch the sink cannot take now goes to the
  durable spool, and while the spool holds anything for the sink, new data queues behind it
  there, so replay after an outage keeps time order (Prometheus rejects out-of-order samples).
  A request that went out without an answer (timed out, or cut off) may have been stored:
  it is sent again exactly as it was, before anything newer, and never merged with newer
  samples, because Prometheus refuses a whole request for one sample older than it holds.
- `SnapshotForwarder` (Pushgateway): the upstream holds only the latest value of each series,
  so an old value is worthless once a newer one exists; nothing is spooled, the latest
  snapshot is PUT on each push, and the group is deleted on shutdown.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pulse_sidecar import delivery, samples, spool, telemetry
from pulse_sidecar.sinks import http

log = logging.getLogger(__name__)


class StreamSink(Protocol):
    """A sink taking encoded batches of samples (remote_write, OTLP).

    `encode` runs in a worker thread when the queue is spilled, so it must not touch the
    event loop or state shared without a lock.
    """

    @property
    def name(self) -> str: ...

    @property
    def max_samples_per_send(self) -> int: ...

    @property
    def whole_families(self) -> bool:
        """Whether a request must hold whole metric families (OTLP rebuilds a histogram
        from its samples); otherwise requests are cut at exactly `max_samples_per_send`."""
        ...

    def encode(self, batch: Sequence[samples.Sample]) -> bytes: ...

    async def write(self, body: bytes) -> None: ...

    async def close(self) -> None: ...


class SnapshotSink(Protocol):
    """A sink holding the latest value of each series (Pushgateway)."""

    @property
    def name(self) -> str: ...

    def encode(self, batch: Sequence[samples.Sample]) -> bytes: ...

    async def write(self, body: bytes) -> None: ...

    async def delete(self) -> None: ...

    async def close(self) -> None: ...


class Forwarder(Protocol):
    """What the application drives: one per sink."""

    @property
    def name(self) -> str: ...

    async def offer(self, batch: Sequence[samples.Sample]) -> None: ...

    async def flush(self) -> int:
        """Pushes what is buffered now; returns the samples delivered."""
        ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


def _status(kind: str, sending: delivery.Delivery, **sizes: int) -> dict[str, Any]:
    return {
        "type": kind,
        "circuit": sending.circuit.state.value,
        "seconds_until_call": round(sending.circuit.seconds_until_call(), 3),
        **sizes,
        "last_success": sending.last_success,
        "last_error": sending.last_error,
    }


class QueueForwarder:
    """Delivers every sample to a stream sink, in order, spooling what cannot go now."""

    def __init__(
        self,
        kind: str,
        sink: StreamSink,
        sending: delivery.Delivery,
        durable: spool.Spool,
        max_buffered: int,
        metrics: telemetry.Telemetry,
    ) -> None:
        self._kind = kind
        self._sink = sink
        self._delivery = sending
        self._spool = durable
        self._max_buffered = max_buffered
        self._buffer: collections.deque[Sequence[samples.Sample]] = collections.deque()
        self._buffered = 0
        self._unanswered: tuple[bytes, int] | None = None
        """The request (payload, samples) sent from the queue and not answered yet."""
        self._gauge = metrics.buffer_samples.labels(sink.name)
        self._dropped = metrics.samples_dropped
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._sink.name

    def status(self) -> dict[str, Any]:
        return _status(
            self._kind,
            self._delivery,
            buffered_samples=self._buffered,
            spooled_samples=self._spool.samples(self.name),
        )

    async def offer(self, batch: Sequence[samples.Sample]) -> None:
        """Queues `batch`; past the memory bound the queue moves to the spool.

        While a push holds the queue the move waits for it, so memory may exceed the bound
        for the length of one push rather than reorder batches.
        """
        if not batch:
            return
        self._push_back(batch)
        if self._buffered > self._max_buffered and not self._lock.locked():
            async with self._lock:
                await self._spill()

    async def flush(self) -> int:
        """Replays the spool, then sends the queue; returns the samples delivered."""
        async with self._lock:
            sent = await self._replay()
            if self._spool.samples(self.name):
                await self._spill()
                return sent
            return sent + await self._send_buffer()

    async def stop(self) -> None:
        """After the last flush: moves what is still queued to the spool, closes the pool."""
        async with self._lock:
            await self._spill()
        await self._sink.close()

    async def _replay(self) -> int:
        sent = 0
        while (batch := await self._spool.first(self.name)) is not None:
            if self._buffered > self._max_buffered:
                await self._spill()
            write = functools.partial(self._sink.write, batch.payload)
            outcome = await self._delivery.send(write, batch.samples)
            if outcome is delivery.Outcome.DEFERRED:
                break
            await self._spool.ack(self.name, batch)
            if outcome is delivery.Outcome.DELIVERED:
                sent += batch.samples
        return sent

    async def _send_buffer(self) -> int:
        """Sends the unanswered request again, then the queue in chunks; spills what the
        sink cannot take now. Cancelled, the request under way stays unanswered and the
        unsent chunks go back in front of the queue."""
        sent = 0
        if self._unanswered is not None:
            payload, count = self._unanswered
            outcome = await self._send(payload, count)
            if outcome is delivery.Outcome.DEFERRED:
                await self._spill()
                return 0
            if outcome is delivery.Outcome.DELIVERED:
                sent += count
        chunks = self._chunks(self._take_all())
        done = 0
        try:
            for chunk in chunks:
                payload = self._sink.encode(chunk)
                done += 1  # from here on its samples are the unanswered request's
                outcome = await self._send(payload, len(chunk))
                if outcome is delivery.Outcome.DEFERRED:
                    break
                if outcome is delivery.Outcome.DELIVERED:
                    sent += len(chunk)
        finally:
            self._push_front(chunks[done:])
        if self._unanswered is not None:
            await self._spill()
        return sent

    async def _send(self, payload: bytes, count: int) -> delivery.Outcome:
        """One request from the queue: unanswered until the sink delivers or refuses it."""
        self._unanswered = (payload, count)
        outcome = await self._delivery.send(functools.partial(self._sink.write, payload), count)
        if outcome is not delivery.Outcome.DEFERRED:
            self._unanswered = None
        return outcome

    async def _spill(self) -> None:
        """Moves the unanswered request (as it was) and the queue to the spool, the queue
        encoded in a worker thread: a full queue of 100k samples takes about 100 ms to
        encode, which would stall ingest on the loop."""
        if not self._buffered and self._unanswered is None:
            return
        chunks = self._chunks(self._take_all())
        try:
            encoded = await asyncio.to_thread(_encode, self._sink.encode, chunks)
        except asyncio.CancelledError:
            self._push_front(chunks)  # nothing stored yet: the queue is spilled again on stop
            raise
        if self._unanswered is not None:
            encoded.insert(0, self._unanswered)
            self._unanswered = None
        try:
            await self._spool.append(self.name, encoded)
        except spool.SpoolError as error:
            lost = sum(count for _, count in encoded)
            self._dropped.labels(self.name, "spool_error").inc(lost)
            log.error(
                "cannot spool; dropped the samples",
                extra={"sink": self.name, "samples": lost, "error": str(error)},
            )

    def _chunks(self, batch: list[samples.Sample]) -> list[list[samples.Sample]]:
        return _chunks(batch, self._sink.max_samples_per_send, self._sink.whole_families)

    def _take_all(self) -> list[samples.Sample]:
        taken = [sample for batch in self._buffer for sample in batch]
        self._buffer.clear()
        self._buffered = 0
        self._gauge.set(0)
        return taken

    def _push_back(self, batch: Sequence[samples.Sample]) -> None:
        self._buffer.append(batch)
        self._buffered += len(batch)
        self._gauge.set(self._buffered)

    def _push_front(self, batches: Sequence[Sequence[samples.Sample]]) -> None:
        self._buffer.extendleft(reversed(batches))
        self._buffered += sum(len(batch) for batch in batches)
        self._gauge.set(self._buffered)


def _encode(
    encode: Callable[[Sequence[samples.Sample]], bytes], chunks: list[list[samples.Sample]]
) -> list[tuple[bytes, int]]:
    """The spool's `(payload, samples)` batches for `chunks`."""
    return [(encode(chunk), len(chunk)) for chunk in chunks]


def _chunks(
    batch: list[samples.Sample], limit: int, whole_families: bool
) -> list[list[samples.Sample]]:
    """Consecutive chunks of `limit` samples; with `whole_families`, of about `limit`,
    cut only between metric families (a chunk may then exceed `limit` by the size of its
    last family)."""
    if not whole_families:
        return [batch[start : start + limit] for start in range(0, len(batch), limit)]
    chunks: list[list[samples.Sample]] = []
    current: list[samples.Sample] = []
    for sample in batch:
        if len(current) >= limit and sample.family != current[-1].family:
            chunks.append(current)
            current = []
        current.append(sample)
    if current:
        chunks.append(current)
    return chunks


class SnapshotForwarder:
    """Pushes the latest value of every series to a snapshot sink."""

    def __init__(
        self,
        kind: str,
        sink: SnapshotSink,
        sending: delivery.Delivery,
        max_series: int,
        metrics: telemetry.Telemetry,
    ) -> None:
        self._kind = kind
        self._sink = sink
        self._delivery = sending
        self._max_series = max_series
        self._metrics = metrics
        self._latest: dict[tuple[str, samples.Labels], samples.Sample] = {}
        self._gauge = metrics.buffer_samples.labels(sink.name)
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._sink.name

    def status(self) -> dict[str, Any]:
        return _status(self._kind, self._delivery, series=len(self._latest))

    async def offer(self, batch: Sequence[samples.Sample]) -> None:
        """Keeps the newest value of each series; a staleness marker removes the series."""
        refused = 0
        for sample in batch:
            key = (sample.name, sample.labels)
            if samples.is_stale(sample.value):
                self._latest.pop(key, None)
            elif key in self._latest or len(self._latest) < self._max_series:
                self._latest[key] = sample
            else:
                refused += 1
        if refused:
            self._metrics.samples_dropped.labels(self.name, "buffer_full").inc(refused)
            log.error(
                "too many series for the sink; dropped new ones",
                extra={"sink": self.name, "samples": refused, "max_series": self._max_series},
            )
        self._gauge.set(len(self._latest))

    async def flush(self) -> int:
        """PUTs the snapshot; returns the samples delivered."""
        async with self._lock:
            if not self._latest:
                return 0
            snapshot = list(self._latest.values())
            write = functools.partial(self._sink.write, self._sink.encode(snapshot))
            outcome = await self._delivery.send(write, len(snapshot))
            return len(snapshot) if outcome is delivery.Outcome.DELIVERED else 0

    async def stop(self) -> None:
        """Deletes the pod's group, so a terminated pod's last values do not linger."""
        try:
            await self._sink.delete()
        except http.SinkError as error:
            log.warning(
                "could not delete the group", extra={"sink": self.name, "error": str(error)}
            )
        await self._sink.close()
