"""Prometheus remote write 2.0: `io.prometheus.write.v2.Request`, and the way back to 1.0.

A 2.0 request names every string once, in a symbol table (`symbols[0]` is always ""), and
each series refers to its labels by index, with its metric type as metadata. A receiver
that does not speak 2.0 answers 415, or (a 1.0 receiver that ignores the Content-Type)
a 2xx without the written-count headers; the sink then falls back to 1.0, and a request
already encoded as 2.0 (sent once, or spooled) is decoded here and sent again as 1.0, so
that no sample is lost to the negotiation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

import cramjam

from pulse_sidecar import samples
from pulse_sidecar.sinks import protobuf

CONTENT_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
VERSION = "2.0.0"
WRITTEN = (
    "X-Prometheus-Remote-Write-Samples-Written",
    "X-Prometheus-Remote-Write-Histograms-Written",
    "X-Prometheus-Remote-Write-Exemplars-Written",
)
"""The response headers a 2.0 receiver must send; none of them means a 1.0 receiver."""

_TYPES = {
    "counter": 1,
    "gauge": 2,
    "histogram": 3,
    "gaugehistogram": 4,
    "summary": 5,
    "info": 6,
    "stateset": 7,
}
"""Metadata.MetricType per sample kind; anything else is METRIC_TYPE_UNSPECIFIED (0)."""
_KINDS = {number: kind for kind, number in _TYPES.items()}

_SYMBOLS_FIELD, _TIMESERIES_FIELD = 4, 5
_FIRST_TAG_V2 = protobuf.tag(_SYMBOLS_FIELD, protobuf.LENGTH_DELIMITED)[0]
_DOUBLE = struct.Struct("<d")


def encode(batch: Sequence[samples.Sample]) -> bytes:
    """The request body: a snappy-compressed (block format) 2.0 Request."""
    return bytes(cramjam.snappy.compress_raw(request(batch)))


def request(batch: Sequence[samples.Sample]) -> bytes:
    """The uncompressed Request: the symbols first (a reader can tell it from a 1.0
    WriteRequest by its first byte), then one TimeSeries per series, in time order."""
    symbols: dict[str, int] = {"": 0}
    series: dict[tuple[str, samples.Labels], list[samples.Sample]] = {}
    for sample in batch:
        series.setdefault((sample.name, sample.labels), []).append(sample)
    out: list[bytes] = []
    for (name, labels), points in series.items():
        refs = b"".join(
            protobuf.varint(symbols.setdefault(text, len(symbols)))
            for pair in sorted([("__name__", name), *labels])
            for text in pair
        )
        body = [protobuf.bytes_field(1, refs)]
        for point in sorted(points, key=lambda p: p.timestamp_ms):
            value = protobuf.double_field(1, point.value)
            body.append(protobuf.bytes_field(2, value + protobuf.uint_field(2, point.timestamp_ms)))
        kind = _TYPES.get(points[0].kind, 0)
        if kind:
            body.append(protobuf.bytes_field(5, protobuf.uint_field(1, kind)))
        out.append(protobuf.bytes_field(_TIMESERIES_FIELD, b"".join(body)))
    table = b"".join(protobuf.string_field(_SYMBOLS_FIELD, text) for text in symbols)
    return table + b"".join(out)


def is_v2(body: bytes) -> bool:
    """Whether a compressed body holds a 2.0 Request, read from its first protobuf byte
    without decompressing it: a snappy block starts with the uncompressed length (a
    varint), then a literal (tag, extra length bytes for long literals, the data)."""
    try:
        position = 0
        while body[position] & 0x80:
            position += 1
        tag = body[position + 1]
        length_bytes = max(0, (tag >> 2) - 59)
        return body[position + 2 + length_bytes] == _FIRST_TAG_V2
    except IndexError:  # too short for a request the sidecar made: not one
        return False


def decode(body: bytes) -> list[samples.Sample]:
    """The samples of a compressed 2.0 Request made by `encode`, to be sent again as 1.0."""
    message = bytes(cramjam.snappy.decompress_raw(body))
    symbols: list[str] = []
    batch: list[samples.Sample] = []
    for number, value in protobuf.fields(message):
        if number == _SYMBOLS_FIELD:
            symbols.append(_bytes(value).decode("utf-8"))
        elif number == _TIMESERIES_FIELD:
            batch.extend(_series_samples(_bytes(value), symbols))
    return batch


def _series_samples(message: bytes, symbols: list[str]) -> Iterator[samples.Sample]:
    refs: list[int] = []
    points: list[tuple[float, int]] = []
    kind = 0
    for number, value in protobuf.fields(message):
        if number == 1:
            refs = list(protobuf.packed_varints(_bytes(value)))
        elif number == 2:
            point = dict(protobuf.fields(_bytes(value)))
            (number_value,) = _DOUBLE.unpack(_bytes(point.get(1, bytes(8))))
            points.append((number_value, protobuf.signed(_int(point.get(2, 0)))))
        elif number == 5:
            kind = _int(dict(protobuf.fields(_bytes(value))).get(1, 0))
    pairs = [(symbols[refs[i]], symbols[refs[i + 1]]) for i in range(0, len(refs), 2)]
    name = dict(pairs)["__name__"]
    labels = tuple(pair for pair in pairs if pair[0] != "__name__")
    for number_value, timestamp in points:
        yield samples.Sample(
            name, labels, number_value, timestamp, name, _KINDS.get(kind, "unknown")
        )


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited or fixed field, found a varint")
    return value


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a varint, found bytes")
    return value
