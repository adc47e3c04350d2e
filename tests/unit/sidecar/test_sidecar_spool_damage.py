"""A damaged spool file is set aside and replaced, never a crash loop: the three kinds of
damage a fault run found (truncated, header overwritten, garbage in the middle), at start and
while the sidecar runs."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pulse_sidecar import spool, telemetry
from pulse_sidecar.spool import quarantine

PAGE = 4096


def truncated_to_half(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def header_overwritten(path: Path) -> None:
    with path.open("r+b") as file:
        file.write(random.Random(1).randbytes(100))


def garbage_in_the_middle(path: Path) -> None:
    with path.open("r+b") as file:
        file.seek(path.stat().st_size // 2 // PAGE * PAGE)
        file.write(random.Random(2).randbytes(PAGE))


DAMAGE = [truncated_to_half, header_overwritten, garbage_in_the_middle]


async def spool_with_batches(path: Path, registry: CollectorRegistry) -> spool.Spool:
    durable = spool.Spool(path, 10_000_000, telemetry.Telemetry(registry))
    await durable.open(["a", "b"])
    payloads = random.Random(3)
    await durable.append("a", [(payloads.randbytes(3000), 10) for _ in range(600)])
    await durable.append("b", [(payloads.randbytes(3000), 1) for _ in range(200)])
    return durable


def dropped(registry: CollectorRegistry, sink: str) -> float | None:
    return registry.get_sample_value(
        "collector_samples_dropped_total", {"sink": sink, "reason": "spool_corrupt"}
    )


@pytest.mark.parametrize("damage", DAMAGE)
async def test_a_file_damaged_while_stopped_is_set_aside_and_the_spool_starts_empty(
    tmp_path: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "spool.db"
    registry = CollectorRegistry()
    await (await spool_with_batches(path, registry)).close()
    damage(path)
    head = path.read_bytes()[: quarantine.KEPT_BYTES]
    with pytest.raises(sqlite3.DatabaseError):  # what made every start exit 1
        sqlite3.connect(path).execute("PRAGMA quick_check").fetchall()

    restarted = CollectorRegistry()
    durable = spool.Spool(path, 10_000_000, telemetry.Telemetry(restarted))
    await durable.open(["a", "b"])

    assert (durable.size_bytes, durable.samples("a"), durable.samples("b")) == (0, 0, 0)
    assert restarted.get_sample_value("collector_spool_quarantines_total") == 1
    damaged = durable.quarantined
    assert damaged is not None
    assert damaged.kept_as == tmp_path / "spool.db.corrupt"
    assert damaged.kept_as.read_bytes() == head
    assert damaged.file_bytes > quarantine.KEPT_BYTES  # only the head is kept
    assert "malformed" in damaged.error or "not a database" in damaged.error
    assert "set it aside" in caplog.text
    # whatever the damaged file could still say of itself was counted, and nothing else
    lost = damaged.samples or {}
    assert (dropped(restarted, "a"), dropped(restarted, "b")) == (lost.get("a"), lost.get("b"))

    await durable.append("a", [(b"after", 7)])  # and it keeps going
    batch = await durable.first("a")
    assert batch is not None
    assert batch.payload == b"after"
    await durable.close()


async def test_a_file_damaged_under_a_running_spool_is_replaced_and_its_samples_counted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spool.db"
    registry = CollectorRegistry()
    durable = await spool_with_batches(path, registry)
    assert (durable.samples("a"), durable.samples("b")) == (6000, 200)

    def damage_under_it() -> None:
        """Checkpointed into the main file, damaged there, and read through a new
        connection: SQLite's page cache would otherwise hide the damage for a while."""
        assert durable._db is not None
        durable._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        durable._db.close()
        header_overwritten(path)
        durable._db = sqlite3.connect(path, check_same_thread=False)

    durable._executor.submit(damage_under_it).result()

    assert await durable.first("a") is None
    assert (dropped(registry, "a"), dropped(registry, "b")) == (6000, 200)
    assert (durable.size_bytes, durable.samples("a"), durable.samples("b")) == (0, 0, 0)
    assert durable.quarantined is not None
    assert durable.quarantined.samples == {"a": 6000, "b": 200}
    await durable.append("b", [(b"after", 7)])
    assert durable.samples("b") == 7
    await durable.close()


async def test_a_file_that_cannot_be_opened_is_not_taken_for_damage(tmp_path: Path) -> None:
    """Only SQLITE_CORRUPT and SQLITE_NOTADB set a file aside: a volume that cannot be
    written or opened fails the start with the reason, and throws nothing away."""
    path = tmp_path / "spool.db"
    path.mkdir()
    (path / "kept").write_text("still here")
    durable = spool.Spool(path, 10_000_000, telemetry.Telemetry(CollectorRegistry()))
    with pytest.raises(spool.SpoolError, match="unable to open database file"):
        await durable.open(["a", "b"])
    assert (path / "kept").read_text() == "still here"
    assert not (tmp_path / "spool.db.corrupt").exists()
    assert durable.quarantined is None
