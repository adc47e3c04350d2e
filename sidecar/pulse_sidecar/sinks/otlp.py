"""OpenTelemetry OTLP/HTTP metrics: a protobuf ExportMetricsServiceRequest per POST.

Prometheus families map to OTLP as the Prometheus-to-OTLP conventions do: counters become
cumulative monotonic sums named after the family, histograms become cumulative explicit-bucket
histograms, and everything else becomes gauges. A staleness marker becomes a data point with
the "no recorded value" flag. Only 429, 502, 503 and 504 are retried, as the OTLP
specification says.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence

from pulse_sidecar import config, identity, samples, telemetry
from pulse_sidecar.sinks import http, protobuf

HEADERS = {"Content-Type": "application/x-protobuf"}
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

_CUMULATIVE = 2
_NO_RECORDED_VALUE = 1
_SCOPE = protobuf.string_field(1, "pulse-sidecar") + protobuf.string_field(2, identity.version())


def retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES


class OtlpSink:
    def __init__(self, settings: config.OtlpSink, metrics: telemetry.Telemetry) -> None:
        self.name = settings.name
        self.max_samples_per_send = settings.max_samples_per_send
        self.whole_families = True
        """A histogram or summary is rebuilt from its family's samples."""
        self._url = str(settings.url)
        self._client = http.SinkClient(settings, retryable, metrics)

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return export_request(batch)

    async def write(self, body: bytes) -> None:
        await self._client.request("POST", self._url, body, HEADERS)

    async def close(self) -> None:
        await self._client.close()


def export_request(batch: Sequence[samples.Sample]) -> bytes:
    """ExportMetricsServiceRequest with one resource and one scope holding every metric."""
    scope_metrics = protobuf.bytes_field(1, _SCOPE) + b"".join(
        protobuf.bytes_field(2, metric) for metric in _metrics(batch)
    )
    resource_metrics = protobuf.bytes_field(2, scope_metrics)
    return protobuf.bytes_field(1, resource_metrics)


def _metrics(batch: Sequence[samples.Sample]) -> Iterator[bytes]:
    sums: dict[str, list[bytes]] = {}
    gauges: dict[str, list[bytes]] = {}
    histograms: dict[str, list[samples.Sample]] = {}
    for sample in batch:
        if sample.kind == "histogram":
            histograms.setdefault(sample.family, []).append(sample)
        elif sample.kind == "counter":
            sums.setdefault(sample.family, []).append(_number_point(sample))
        elif sample.kind == "summary" and sample.name.endswith(("_sum", "_count")):
            sums.setdefault(sample.name, []).append(_number_point(sample))
        else:
            name = sample.family if sample.kind == "summary" else sample.name
            gauges.setdefault(name, []).append(_number_point(sample))
    for name, points in sums.items():
        body = _points(points) + protobuf.uint_field(2, _CUMULATIVE) + protobuf.uint_field(3, 1)
        yield protobuf.string_field(1, name) + protobuf.bytes_field(7, body)
    for name, points in gauges.items():
        yield protobuf.string_field(1, name) + protobuf.bytes_field(5, _points(points))
    for name, family in histograms.items():
        body = _points(list(_histogram_points(name, family)))
        body += protobuf.uint_field(2, _CUMULATIVE)
        yield protobuf.string_field(1, name) + protobuf.bytes_field(9, body)


def _points(points: list[bytes]) -> bytes:
    return b"".join(protobuf.bytes_field(1, point) for point in points)


def _attributes(number: int, labels: samples.Labels) -> bytes:
    return b"".join(
        protobuf.bytes_field(
            number,
            protobuf.string_field(1, key)
            + protobuf.bytes_field(2, protobuf.string_field(1, value)),
        )
        for key, value in labels
    )


def _number_point(sample: samples.Sample) -> bytes:
    point = _attributes(7, sample.labels) + protobuf.fixed64_field(3, sample.timestamp_ms * 10**6)
    if samples.is_stale(sample.value):
        return point + protobuf.uint_field(8, _NO_RECORDED_VALUE)
    return point + protobuf.double_field(4, sample.value)


def _histogram_points(family: str, batch: list[samples.Sample]) -> Iterator[bytes]:
    """One data point per label set and time, from the _bucket, _count and _sum samples."""
    groups: dict[tuple[samples.Labels, int], list[samples.Sample]] = {}
    for sample in batch:
        labels = tuple(pair for pair in sample.labels if pair[0] != "le")
        groups.setdefault((labels, sample.timestamp_ms), []).append(sample)
    for (labels, timestamp_ms), group in groups.items():
        point = _attributes(9, labels) + protobuf.fixed64_field(3, timestamp_ms * 10**6)
        if all(samples.is_stale(s.value) for s in group):
            yield point + protobuf.uint_field(10, _NO_RECORDED_VALUE)
            continue
        cumulative: list[tuple[float, float]] = []
        count = total = 0.0
        for sample in group:
            if sample.name == f"{family}_bucket":
                cumulative.append((float(dict(sample.labels).get("le", "+Inf")), sample.value))
            elif sample.name == f"{family}_count":
                count = sample.value
            elif sample.name == f"{family}_sum":
                total = sample.value
        cumulative.sort()
        bounds = [bound for bound, _ in cumulative if not math.isinf(bound)]
        counts, previous = [], 0.0
        for _, running in cumulative:
            counts.append(max(0, round(running - previous)))
            previous = running
        if not cumulative or not math.isinf(cumulative[-1][0]):
            counts.append(max(0, round(count - previous)))
        point += protobuf.fixed64_field(4, round(count)) + protobuf.double_field(5, total)
        point += protobuf.bytes_field(6, struct.pack(f"<{len(counts)}Q", *counts))
        point += protobuf.bytes_field(7, struct.pack(f"<{len(bounds)}d", *bounds))
        yield point
