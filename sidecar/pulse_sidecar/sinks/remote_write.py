"""Prometheus remote write: a snappy-compressed protobuf WriteRequest (1.0) or Request
(2.0, `remote_write_v2`) per POST, as the sink's `protocol` asks.

Retries follow the specification: 5xx and 429 are retried (with backoff, honouring
Retry-After), any other 4xx means the data will never be accepted, so the batch is dropped
and counted instead of blocking everything behind it. With 2.0, the spec's negotiation: a
receiver that answers 415, or a 2xx without the written-count headers, speaks only 1.0;
the sink falls back to 1.0 for good and sends that request again as 1.0.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Mapping, Sequence

import cramjam

from pulse_sidecar import config, samples, telemetry
from pulse_sidecar.sinks import http, protobuf, remote_write_v2

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
"""With the client's User-Agent, the four headers the 1.0 specification requires."""

HEADERS_V2 = {
    **HEADERS,
    "Content-Type": remote_write_v2.CONTENT_TYPE,
    "X-Prometheus-Remote-Write-Version": remote_write_v2.VERSION,
}

log = logging.getLogger(__name__)


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
        self.protocol = settings.protocol
        """The protocol spoken now: "2.0" until the receiver shows it speaks only 1.0."""

    def encode(self, batch: Sequence[samples.Sample]) -> bytes:
        return remote_write_v2.encode(batch) if self.protocol == "2.0" else encode(batch)

    async def write(self, body: bytes) -> None:
        """Sends a body as it was encoded, a 2.0 one as 1.0 once the sink fell back (it
        may have been spooled before)."""
        if remote_write_v2.is_v2(body):
            if self.protocol == "2.0" and await self._write_v2(body):
                return
            body = encode(remote_write_v2.decode(body))
        await self._client.request("POST", self._url, body, HEADERS)

    async def _write_v2(self, body: bytes) -> bool:
        """Sends a 2.0 request; False when the receiver turned out to speak only 1.0."""
        try:
            answer = await self._client.request("POST", self._url, body, HEADERS_V2)
        except http.SinkError as error:
            if error.reason == "http_415":
                self._fall_back(str(error))
                return False
            error.written = written_samples(error.headers)
            raise
        if not any(header in answer for header in remote_write_v2.WRITTEN):
            self._fall_back("a 2xx answer without the written-count headers of 2.0")
            return False
        return True

    def _fall_back(self, why: str) -> None:
        self.protocol = "1.0"
        log.warning(
            "the receiver does not speak remote write 2.0; sending 1.0 from now on",
            extra={"sink": self.name, "url": self._url, "reason": why},
        )

    async def close(self) -> None:
        await self._client.close()


def written_samples(headers: Mapping[str, str]) -> int:
    """The samples and histograms a 2.0 receiver says it stored (0 when it does not say)."""
    total = 0
    for header in remote_write_v2.WRITTEN[:2]:
        value = headers.get(header, "0")
        total += int(value) if value.isdigit() else 0
    return total


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
