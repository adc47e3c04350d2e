"""CPU and memory of the pod's containers, read from the cgroup filesystem.

With cgroup v2 (`cgroup.controllers` at the root) the root group and each child group that
has CPU accounting is read, so that a root mounted at the pod's level shows every container.
With cgroup v1 the `cpuacct` and `memory` controllers' root groups are read.
The group is the `cgroup` label: "/" for the root, "/<name>" for a child.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import metrics_core

_V1_UNLIMITED = 1 << 62
"""cgroup v1 reports "no limit" as a huge number near 2^63 rounded to pages."""


class CgroupCollector:
    """A prometheus_client collector of the cgroup readings under `root`."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def collect(self) -> Iterator[metrics_core.Metric]:
        cpu = metrics_core.CounterMetricFamily(
            "pulse_container_cpu_usage_seconds",
            "CPU time used by the cgroup.",
            labels=["cgroup"],
        )
        usage = metrics_core.GaugeMetricFamily(
            "pulse_container_memory_usage_bytes",
            "Memory charged to the cgroup, page cache included.",
            labels=["cgroup"],
        )
        working_set = metrics_core.GaugeMetricFamily(
            "pulse_container_memory_working_set_bytes",
            "Memory charged to the cgroup minus inactive file cache: what the OOM killer sees.",
            labels=["cgroup"],
        )
        limit = metrics_core.GaugeMetricFamily(
            "pulse_container_memory_limit_bytes",
            "Memory limit of the cgroup, when it has one.",
            labels=["cgroup"],
        )
        for label, reading in self._readings():
            cpu.add_metric([label], reading.cpu_seconds)
            usage.add_metric([label], reading.memory_bytes)
            working_set.add_metric(
                [label], max(0, reading.memory_bytes - reading.inactive_file_bytes)
            )
            if reading.memory_limit_bytes is not None:
                limit.add_metric([label], reading.memory_limit_bytes)
        yield from (cpu, usage, working_set, limit)

    def _readings(self) -> Iterator[tuple[str, _Reading]]:
        if (self._root / "cgroup.controllers").exists():
            groups = [self._root, *sorted(p.parent for p in self._root.glob("*/cpu.stat"))]
            for group in groups:
                reading = _read_v2(group)
                if reading is not None:
                    yield "/" + str(group.relative_to(self._root)).removeprefix("."), reading
        else:
            reading = _read_v1(self._root)
            if reading is not None:
                yield "/", reading


@dataclasses.dataclass(frozen=True)
class _Reading:
    cpu_seconds: float
    memory_bytes: int
    inactive_file_bytes: int
    memory_limit_bytes: int | None


def _read_v2(group: Path) -> _Reading | None:
    try:
        cpu = _keyed(group / "cpu.stat")
        memory = int((group / "memory.current").read_text())
        stat = _keyed(group / "memory.stat")
        limit_text = (group / "memory.max").read_text().strip()
    except (OSError, ValueError):
        return None
    return _Reading(
        cpu_seconds=cpu.get("usage_usec", 0) / 1e6,
        memory_bytes=memory,
        inactive_file_bytes=stat.get("inactive_file", 0),
        memory_limit_bytes=None if limit_text == "max" else int(limit_text),
    )


def _read_v1(root: Path) -> _Reading | None:
    cpuacct = next((root / d for d in ("cpuacct", "cpu,cpuacct") if (root / d).is_dir()), None)
    try:
        if cpuacct is None:
            return None
        cpu_ns = int((cpuacct / "cpuacct.usage").read_text())
        memory = int((root / "memory" / "memory.usage_in_bytes").read_text())
        stat = _keyed(root / "memory" / "memory.stat")
        limit = int((root / "memory" / "memory.limit_in_bytes").read_text())
    except (OSError, ValueError):
        return None
    return _Reading(
        cpu_seconds=cpu_ns / 1e9,
        memory_bytes=memory,
        inactive_file_bytes=stat.get("total_inactive_file", 0),
        memory_limit_bytes=None if limit >= _V1_UNLIMITED else limit,
    )


def _keyed(path: Path) -> dict[str, int]:
    """A cgroup "key value" file (cpu.stat, memory.stat) as a dictionary."""
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        values[key] = int(value)
    return values
