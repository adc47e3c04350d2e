"""An independent reader of the sinks' wire formats, for tests of what goes out: it shares
no code with the hand-written encoders it checks."""

from __future__ import annotations

import struct

import cramjam


def protobuf_fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message, in order.

    Varints come back as ints, fixed64 and length-delimited fields as bytes: enough for
    tests to take the sinks' hand-written encodings apart independently of the encoder.
    """
    fields: list[tuple[int, int | bytes]] = []
    position = 0

    def varint() -> int:
        nonlocal position
        result, position = read_varint(message, position)
        return result

    while position < len(message):
        key = varint()
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            fields.append((number, varint()))
        elif wire_type == 1:
            fields.append((number, message[position : position + 8]))
            position += 8
        elif wire_type == 2:
            length = varint()
            fields.append((number, message[position : position + length]))
            position += length
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
    return fields


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    """The varint at `position`, and the position after it."""
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def submessages(message: bytes, number: int) -> list[bytes]:
    return [
        value for n, value in protobuf_fields(message) if n == number and isinstance(value, bytes)
    ]


def scalar(message: bytes, number: int) -> int | bytes | None:
    values = [value for n, value in protobuf_fields(message) if n == number]
    return values[-1] if values else None


def decode_write_request(
    body: bytes,
) -> list[tuple[list[tuple[str, str]], list[tuple[float, int]]]]:
    decoded = []
    for series in submessages(cramjam.snappy.decompress_raw(body).read(), 1):
        labels = []
        for label in submessages(series, 1):
            name, value = submessages(label, 1)[0], submessages(label, 2)[0]
            labels.append((name.decode(), value.decode()))
        points = []
        for point in submessages(series, 2):
            raw_value = scalar(point, 1)
            assert isinstance(raw_value, bytes)
            timestamp = scalar(point, 2)
            assert isinstance(timestamp, int)
            points.append((struct.unpack("<d", raw_value)[0], timestamp))
        decoded.append((labels, points))
    return decoded


def decode_v2_request(
    body: bytes,
) -> tuple[list[str], list[tuple[list[tuple[str, str]], list[tuple[float, int]], int]]]:
    """The symbol table and, per series, its labels, points and metadata type of a
    compressed remote write 2.0 Request."""
    message = cramjam.snappy.decompress_raw(body).read()
    symbols = [s.decode() for s in submessages(message, 4)]
    decoded = []
    for series in submessages(message, 5):
        refs_payload = scalar(series, 1)
        assert isinstance(refs_payload, bytes)
        refs: list[int] = []
        position = 0
        while position < len(refs_payload):  # packed varints
            value, position = read_varint(refs_payload, position)
            refs.append(value)
        labels = [(symbols[refs[i]], symbols[refs[i + 1]]) for i in range(0, len(refs), 2)]
        points = []
        for point in submessages(series, 2):
            raw_value, timestamp = scalar(point, 1), scalar(point, 2)
            assert isinstance(raw_value, bytes)
            assert isinstance(timestamp, int)
            signed = timestamp - 2**64 if timestamp >= 2**63 else timestamp  # int64
            points.append((struct.unpack("<d", raw_value)[0], signed))
        metadata = submessages(series, 5)
        kind = scalar(metadata[0], 1) if metadata else 0
        assert isinstance(kind, int)
        decoded.append((labels, points, kind))
    return symbols, decoded
