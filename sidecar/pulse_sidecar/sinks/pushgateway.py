"""Prometheus Pushgateway: the latest value of every series, PUT as one group per pod.

The grouping key (job = collector, namespace, pod) is unique to the pod, so pods of one
collector never overwrite each other, and the group is deleted on shutdown so that a
terminated pod does not linger forever in the Pushgateway.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator, Sequence

from prometheus_client import exposition, metrics_core

from pulse_sidecar import config, samples, telemetry
from pulse_sidecar.sinks import http

_PLAIN = re.compile(r"^[A-Za-z0-9._~-]+$")


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


class PushgatewaySink:
    def __init__(
        self,
        settings: config.PushgatewaySink,
        collector: config.CollectorIdentity,
        metrics: telemetry.Telemetry,
    ) -> None:
        self.name = settings.name
        self.url = str(settings.url).rstrip("/") + grouping_path(collector)
        self._client = http.SinkClient(settings, retryable, metrics)

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return encode(batch)

    async def write(self, body: bytes) -> None:
        await self._client.request(
            "PUT", self.url, body, {"Content-Type": exposition.CONTENT_TYPE_PLAIN_0_0_4}
        )

    async def delete(self) -> None:
        await self._client.request("DELETE", self.url, None, {})

    async def close(self) -> None:
        await self._client.close()


def encode(batch: Sequence[samples.Sample]) -> bytes:
    """Text exposition of `batch` (one sample per series), without timestamps.

    The Pushgateway refuses pushed timestamps: it stamps what it serves itself.
    """
    return exposition.generate_latest(_Families(batch))


def grouping_path(collector: config.CollectorIdentity) -> str:
    """`/metrics/job/<collector>/namespace/<ns>/pod/<pod>`; the pod is the host name if unset."""
    pairs = [
        ("job", collector.name),
        ("namespace", collector.namespace),
        ("pod", collector.pod or socket.gethostname()),
    ]
    path = "/metrics"
    for label, value in pairs:
        if not value:
            continue
        if _PLAIN.match(value):
            path += f"/{label}/{value}"
        else:
            path += f"/{label}@base64/{base64.urlsafe_b64encode(value.encode()).decode()}"
    return path


class _Families:
    """Samples regrouped into metric families, as the exposition functions want them."""

    def __init__(self, batch: Sequence[samples.Sample]) -> None:
        self._batch = batch

    def collect(self) -> Iterator[metrics_core.Metric]:
        families: dict[str, metrics_core.Metric] = {}
        for sample in self._batch:
            family = families.get(sample.family)
            if family is None:
                family = families[sample.family] = metrics_core.Metric(
                    sample.family, f"{sample.family}, relayed by Pulse.", sample.kind
                )
            family.add_sample(sample.name, dict(sample.labels), sample.value)
        yield from families.values()
