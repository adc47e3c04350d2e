"""Prometheus remote_write 1.0: a snappy-compressed protobuf WriteRequest per POST.

Retries follow the specification: 5xx and 429 are retried (with backoff, honouring
Retry-After), any other 4xx means the data will never be accepted, so the batch is dropped
and counted instead of blocking everything behind it.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence

import cramjam

from pulse_sidecar import config, samples, telemetry
from pulse_sidecar.sinks import http, protobuf

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
"""With the client's User-Agent, the four headers the 1.0 specification requires."""


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


class RemoteWriteSink:
    def __init__(self, settings: config.RemoteWriteSink, metrics: telemetry.Telemetry) -> None:
        self.name = settings.name
        self.max_samples_per_send = settings.max_samples_per_send
        self.whole_families = False
        """Series are independent: a request is cut at exactly max_samples_per_send."""
        self._url = str(settings.url)
        self._client = http.SinkClient(settings, retryable, metrics)

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return encode(batch)

    async def write(self, body: bytes) -> None:
        await self._client.request("POST", self._url, body, HEADERS)

    async def close(self) -> None:
        await self._client.close()


def encode(batch: Sequence[samples.Sample]) -> bytes:
    """The request body: a snappy-compressed (block format) WriteRequest."""
    return bytes(cramjam.snappy.compress_raw(write_request(batch)))


def write_request(batch: Sequence[samples.Sample]) -> bytes:
    """The uncompressed WriteRequest: one TimeSeries per series, samples in time order.

    Written by hand rather than with the protobuf helpers for each field: this loop runs for
    every relayed sample. A series' Label fields come from a cache (the same series return on
    every collection), and so do the bytes around a Sample's value, which depend only on its
    timestamp: a sample costs a lookup and a struct.pack.
    """
    series: dict[bytes, list[samples.Sample]] = {}
    for sample in batch:
        key = _labels(sample.name, sample.labels)
        points = series.get(key)
        if points is None:
            series[key] = [sample]
        else:
            points.append(sample)
    out: list[bytes] = []
    around_value: dict[int, tuple[bytes, bytes]] = {}
    for labels, points in series.items():
        if len(points) > 1:
            points.sort(key=lambda p: p.timestamp_ms)
        timeseries = [labels]
        for point in points:
            affixes = around_value.get(point.timestamp_ms)
            if affixes is None:
                affixes = around_value[point.timestamp_ms] = _sample_affixes(point.timestamp_ms)
            timeseries += (affixes[0], _DOUBLE.pack(point.value), affixes[1])
        body = b"".join(timeseries)
        out += (_TIMESERIES_TAG, protobuf.varint(len(body)), body)
    return b"".join(out)


def _sample_affixes(timestamp_ms: int) -> tuple[bytes, bytes]:
    """What precedes and follows the value in TimeSeries.samples (field 2) for this time.

    Sample{value (1, double), timestamp (2, varint)}: tag, length, value tag | timestamp.
    """
    timestamp = _TIMESTAMP_TAG + protobuf.varint(timestamp_ms)
    return _SAMPLE_TAG + bytes((len(_VALUE_TAG) + 8 + len(timestamp),)) + _VALUE_TAG, timestamp


_TIMESERIES_TAG = protobuf.tag(1, protobuf.LENGTH_DELIMITED)
_SAMPLE_TAG = protobuf.tag(2, protobuf.LENGTH_DELIMITED)
_VALUE_TAG = protobuf.tag(1, protobuf.FIXED64)
_TIMESTAMP_TAG = protobuf.tag(2, protobuf.VARINT)
_DOUBLE = struct.Struct("<d")


@functools.lru_cache(maxsize=65_536)
def _labels(name: str, labels: samples.Labels) -> bytes:
    """The Label fields of a series, sorted by name as the specification requires.

    Cached: the same series come back on every collection.
    """
    pairs = sorted([("__name__", name), *labels])
    return b"".join(
        protobuf.bytes_field(1, protobuf.string_field(1, k) + protobuf.string_field(2, v))
        for k, v in pairs
    )
