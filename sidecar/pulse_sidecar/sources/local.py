"""Sources inside the sidecar: collectors that are also exposed on its own /metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from prometheus_client import registry

from pulse_sidecar import samples


@dataclasses.dataclass(frozen=True)
class CollectorSource:
    """A prometheus_client collector, read on an interval as a pipeline source."""

    name: str
    interval_seconds: float
    collector: registry.Collector
    identity: Mapping[str, str]

    async def collect(self, timestamp_ms: int) -> list[samples.Sample]:
        return samples.flatten(self.collector.collect(), timestamp_ms, self.identity)
