"""The durable spool: batches a sink could not take, in SQLite on the pod's emptyDir.

Batches are stored already encoded for their sink, in the order they were due, and replayed in
that order. Each sink has a persisted send cursor (the id of the last batch it acknowledged)
updated in the same transaction that deletes the acknowledged batch, so a sidecar killed at
any point resends at most the one batch it was sending: at-least-once, never a gap.
When the spool would exceed its size, the oldest batches are dropped, counted and logged.

SQLite calls block, so they run on one dedicated thread, which also owns the connection.
What a job there adds or removes comes back as a delta that the event loop applies: the
counters that /status and the forwarders read are written on the loop only.
WAL with synchronous=NORMAL survives a killed process, which is the failure that matters on
an emptyDir (a lost node loses the volume anyway). A file found damaged, at start or later, is
set aside (`quarantine`) and replaced by an empty one: its samples are counted as dropped, and
collection goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pulse_sidecar import telemetry
from pulse_sidecar.spool import quarantine

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    samples INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_sink ON batches (sink, id);
CREATE TABLE IF NOT EXISTS cursors (
    sink TEXT PRIMARY KEY,
    sent_id INTEGER NOT NULL
);
"""


class SpoolError(Exception):
    """The spool's file cannot be read or written (a full or broken volume)."""


@dataclasses.dataclass(frozen=True)
class SpooledBatch:
    id: int
    samples: int
    payload: bytes


@dataclasses.dataclass(frozen=True)
class _Delta:
    """What a job on the spool's thread added to the file (negative: removed), per sink;
    with `replaced`, after the damaged file was set aside: counted from nothing."""

    bytes: int
    samples: Mapping[str, int]
    replaced: quarantine.Quarantine | None = None

    def __add__(self, other: _Delta) -> _Delta:
        samples = dict(self.samples)
        for sink, count in other.samples.items():
            samples[sink] = samples.get(sink, 0) + count
        return _Delta(self.bytes + other.bytes, samples, self.replaced)


_UNCHANGED = _Delta(0, {})


class Spool:
    """Batches per sink, oldest first, bounded by the total size of their payloads."""

    def __init__(self, path: Path, max_bytes: int, metrics: telemetry.Telemetry) -> None:
        """Prepare a spool at `path`; nothing happens on disk until `open`."""
        self._path = path
        self._max_bytes = max_bytes
        self._metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spool")
        self._db: sqlite3.Connection | None = None
        self._bytes = 0
        self._samples: dict[str, int] = {}
        self._file_bytes = 0
        """The payload bytes as the spool's thread counts them, to decide what to drop when
        full; only that thread reads or writes it."""
        self.quarantined: quarantine.Quarantine | None = None
        """The last damaged file set aside, for /status."""

    @property
    def size_bytes(self) -> int:
        """Payload bytes held."""
        return self._bytes

    def samples(self, sink: str) -> int:
        """Samples waiting for `sink`."""
        return self._samples.get(sink, 0)

    async def open(self, sinks: Collection[str]) -> None:
        """Opens the file, and drops what it holds for sinks no longer configured."""
        await self._run(lambda: (None, self._open(sinks)))
        log.info(
            "spool opened",
            extra={"path": str(self._path), "bytes": self._bytes, "samples": self._samples},
        )

    async def close(self) -> None:
        await self._wait(self._submit(self._close))
        self._executor.shutdown()

    async def append(self, sink: str, batches: Sequence[tuple[bytes, int]]) -> None:
        """Stores `(payload, samples)` batches for `sink` after everything it already has."""
        if batches:
            await self._run(lambda: (None, self._append(sink, batches)))

    async def first(self, sink: str) -> SpooledBatch | None:
        """The oldest batch not yet acknowledged by `sink`."""
        if not self.samples(sink):
            return None
        return await self._run(lambda: (self._first(sink), _UNCHANGED))

    async def ack(self, sink: str, batch: SpooledBatch) -> None:
        """Moves `sink`'s cursor past `batch` and deletes it."""
        await self._run(lambda: (None, self._ack(sink, batch)))

    async def _run(self, job: Callable[[], tuple[_T, _Delta]]) -> _T:
        """Runs `job` on the spool's thread and applies its delta on the loop.

        A cancelled caller does not stop the job on the thread, so the delta is applied
        whenever the job ends: the counters must keep matching the file. Deltas are applied
        in the order the jobs ran, so one that replaced the file resets what came before it.
        """
        running = self._submit(lambda: self._guarded(job))
        running.add_done_callback(self._apply_result)
        result, _ = await self._wait(asyncio.shield(running))
        return result

    def _guarded(self, job: Callable[[], tuple[_T, _Delta]]) -> tuple[_T, _Delta]:
        """`job`, run again on a new, empty file if it found the file damaged."""
        try:
            return job()
        except sqlite3.DatabaseError as error:
            if not quarantine.is_corruption(error):
                raise
            damage = str(error)
        except quarantine.CorruptSpoolError as error:
            damage = f"quick check: {error}"
        self._close()
        replaced = quarantine.set_aside(self._path, damage)
        self._file_bytes = 0
        self._db = self._connect()
        result, delta = job()
        return result, dataclasses.replace(delta, replaced=replaced)

    def _submit(self, job: Callable[[], _T]) -> asyncio.Future[_T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, job)

    async def _wait(self, job: Awaitable[_T]) -> _T:
        try:
            return await job
        except (sqlite3.Error, OSError, quarantine.CorruptSpoolError) as error:
            raise SpoolError(f"spool {self._path}: {error}") from error

    def _apply_result(self, job: asyncio.Future[tuple[Any, _Delta]]) -> None:
        if not job.cancelled() and job.exception() is None:
            self._apply(job.result()[1])

    def _apply(self, delta: _Delta) -> None:
        if delta.replaced is not None:
            self._forget(delta.replaced)
        self._bytes += delta.bytes
        for sink, count in delta.samples.items():
            self._samples[sink] = self.samples(sink) + count
        self._publish()

    def _forget(self, replaced: quarantine.Quarantine) -> None:
        """Counts what the damaged file held as dropped: the loop's own counts when it was
        found at work, else what the file still said of itself, if anything."""
        held = {sink: n for sink, n in self._samples.items() if n}
        lost = held or replaced.samples
        for sink, samples in (lost or {}).items():
            self._metrics.samples_dropped.labels(sink, "spool_corrupt").inc(samples)
        self._metrics.spool_quarantines.inc()
        self._bytes = 0
        self._samples = dict.fromkeys(self._samples, 0)
        self.quarantined = dataclasses.replace(replaced, samples=lost)
        log.error(
            "the spool's file is damaged: set it aside and started an empty one",
            extra={
                "error": replaced.error,
                "kept_as": str(replaced.kept_as),
                "file_bytes": replaced.file_bytes,
                "samples_lost": "unknown" if lost is None else lost,
            },
        )

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _open(self, sinks: Collection[str]) -> _Delta:
        self._close()
        self._db = db = self._connect()
        quarantine.check(db)
        self._forget_removed_sinks(db, sinks)
        rows = db.execute(quarantine.PENDING).fetchall()
        self._file_bytes = sum(size for _, _, size in rows)
        return _Delta(self._file_bytes, {sink: samples for sink, samples, _ in rows})

    def _forget_removed_sinks(self, db: sqlite3.Connection, sinks: Collection[str]) -> None:
        kept = ", ".join("?" * len(sinks)) or "NULL"
        with db:
            removed = db.execute(
                f"SELECT sink, SUM(samples) FROM batches WHERE sink NOT IN ({kept}) GROUP BY sink",
                tuple(sinks),
            ).fetchall()
            db.execute(f"DELETE FROM batches WHERE sink NOT IN ({kept})", tuple(sinks))
            db.execute(f"DELETE FROM cursors WHERE sink NOT IN ({kept})", tuple(sinks))
        for sink, samples in removed:
            self._metrics.samples_dropped.labels(sink, "sink_removed").inc(samples)
            log.warning(
                "dropped the spooled samples of a sink no longer configured",
                extra={"sink": sink, "samples": samples},
            )

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _append(self, sink: str, batches: Sequence[tuple[bytes, int]]) -> _Delta:
        db = self._connection()
        with db:
            db.executemany(
                "INSERT INTO batches (sink, samples, payload) VALUES (?, ?, ?)",
                [(sink, samples, payload) for payload, samples in batches],
            )
        added = _Delta(
            sum(len(payload) for payload, _ in batches), {sink: sum(n for _, n in batches)}
        )
        self._file_bytes += added.bytes
        if self._file_bytes > self._max_bytes:
            return added + self._drop_oldest()
        return added

    def _first(self, sink: str) -> SpooledBatch | None:
        row = (
            self._connection()
            .execute(
                "SELECT id, samples, payload FROM batches WHERE sink = ?"
                " AND id > COALESCE((SELECT sent_id FROM cursors WHERE sink = ?), 0)"
                " ORDER BY id LIMIT 1",
                (sink, sink),
            )
            .fetchone()
        )
        return None if row is None else SpooledBatch(row[0], row[1], row[2])

    def _ack(self, sink: str, batch: SpooledBatch) -> _Delta:
        """Counts what is deleted, not `batch`: it may have been dropped, as the oldest,
        while it was being sent."""
        db = self._connection()
        with db:
            db.execute(
                "INSERT INTO cursors (sink, sent_id) VALUES (?, ?)"
                " ON CONFLICT (sink) DO UPDATE SET sent_id = excluded.sent_id",
                (sink, batch.id),
            )
            samples, size = db.execute(
                "SELECT COALESCE(SUM(samples), 0), COALESCE(SUM(LENGTH(payload)), 0)"
                " FROM batches WHERE sink = ? AND id <= ?",
                (sink, batch.id),
            ).fetchone()
            db.execute("DELETE FROM batches WHERE sink = ? AND id <= ?", (sink, batch.id))
        self._file_bytes -= size
        return _Delta(-size, {sink: -samples})

    def _drop_oldest(self) -> _Delta:
        db = self._connection()
        held = self._file_bytes
        dropped: dict[str, int] = {}
        with db:
            while held > self._max_bytes:
                batch_id, sink, samples, size = db.execute(
                    "SELECT id, sink, samples, LENGTH(payload) FROM batches ORDER BY id LIMIT 1"
                ).fetchone()
                db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                held -= size
                dropped[sink] = dropped.get(sink, 0) + samples
        freed, self._file_bytes = self._file_bytes - held, held
        for sink, samples in dropped.items():
            self._metrics.samples_dropped.labels(sink, "spool_full").inc(samples)
            log.error(
                "spool full: dropped the oldest samples",
                extra={"sink": sink, "samples": samples, "max_bytes": self._max_bytes},
            )
        return _Delta(-freed, {sink: -samples for sink, samples in dropped.items()})

    def _publish(self) -> None:
        self._metrics.spool_bytes.set(self._bytes)
        for sink, samples in self._samples.items():
            self._metrics.spool_samples.labels(sink).set(samples)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the spool is not open")
        return self._db
