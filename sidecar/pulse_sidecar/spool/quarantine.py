"""Setting a corrupt spool file aside, so that a damaged emptyDir never becomes a crash loop.

A spool file can be damaged under the sidecar (a full or failing disk, a node crash with
writes in flight, someone editing the volume). SQLite then answers SQLITE_CORRUPT or
SQLITE_NOTADB on every start. What the file held is lost either way; what matters is that
collection goes on, that the loss is counted and said, and that the file can be looked at.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path

KEPT_BYTES = 1024 * 1024
"""The quarantined copy keeps the file's first MiB (its header, schema and first pages): the
operator sizes the spool's emptyDir with 1 MiB to spare beyond the spool and its journal, so a
whole copy of a full spool could get the pod evicted."""

_CORRUPTION = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)

PENDING = (
    "SELECT b.sink, SUM(b.samples), SUM(LENGTH(b.payload)) FROM batches b"
    " LEFT JOIN cursors c ON c.sink = b.sink"
    " WHERE b.id > COALESCE(c.sent_id, 0) GROUP BY b.sink"
)
"""Per sink: the samples and payload bytes not yet acknowledged."""


class CorruptSpoolError(Exception):
    """The spool's file is damaged: SQLite cannot read it as a database."""


@dataclasses.dataclass(frozen=True)
class Quarantine:
    """A damaged spool file that was set aside."""

    kept_as: Path
    file_bytes: int
    error: str
    at: float
    samples: Mapping[str, int] | None
    """The samples lost per sink, when known (counted by the sidecar, or still readable in
    the damaged file)."""


def is_corruption(error: sqlite3.Error) -> bool:
    """Whether `error` says the file is damaged, rather than the disk full or busy."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _CORRUPTION


def check(db: sqlite3.Connection) -> None:
    """Raises CorruptSpoolError unless SQLite's quick check finds the file sound (it reads every
    page once: a second or so for a full default spool, at start only)."""
    problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise CorruptSpoolError("; ".join(problems[:3]))


def set_aside(path: Path, error: str) -> Quarantine:
    """Replaces any earlier quarantined copy with the head of `path`, then deletes `path`
    and its journal: SQLite starts a new, empty file there."""
    samples = _readable_samples(path)
    kept_as = path.with_name(path.name + ".corrupt")
    size = path.stat().st_size if path.exists() else 0
    if path.exists():
        with path.open("rb") as damaged, kept_as.open("wb") as copy:
            copy.write(damaged.read(KEPT_BYTES))
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return Quarantine(kept_as, size, error, time.time(), samples)


def _readable_samples(path: Path) -> dict[str, int] | None:
    """The samples a damaged file still says it holds, or None when it cannot say."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return {sink: samples for sink, samples, _ in db.execute(PENDING).fetchall()}
        finally:
            db.close()
    except sqlite3.Error:
        return None
