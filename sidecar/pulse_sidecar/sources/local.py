"""Sources inside the sidecar: collectors that are also exposed on its own /metrics."""

from __future__ import annotations

import dataclasses

from prometheus_client import metrics_core, registry


@dataclasses.dataclass(frozen=True)
class CollectorSource:
    """A prometheus_client collector, read on an interval as a pipeline source."""

    name: str
    interval_seconds: float
    collector: registry.Collector

    async def collect(self) -> list[metrics_core.Metric]:
        return list(self.collector.collect())
