"""Just enough of the protobuf wire format to encode the requests the sinks send.

WriteRequest and Request (remote write 1.0 and 2.0) and ExportMetricsServiceRequest (OTLP)
are small, stable messages; a few lines of varint and length-delimited writing avoid
generated code and a runtime dependency for them. Reading is only needed to turn a 2.0
request the sidecar made back into its samples.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH_DELIMITED = 0, 1, 2
"""Wire types."""


def varint(value: int) -> bytes:
    """`value` as a base-128 varint; negative values as their 64-bit two's complement."""
    if 0 <= value < _TABULATED:
        return _SMALL_VARINTS[value]
    return _encode_varint(value)


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_TABULATED = 1 << 10
_SMALL_VARINTS = [_encode_varint(value) for value in range(_TABULATED)]
"""Varints below 1024 (the length prefixes of samples and of most series), made once."""


def tag(number: int, wire_type: int) -> bytes:
    """The key that precedes a field's value."""
    return varint(number << 3 | wire_type)


def uint_field(number: int, value: int) -> bytes:
    return tag(number, VARINT) + varint(value)


def double_field(number: int, value: float) -> bytes:
    return tag(number, FIXED64) + struct.pack("<d", value)


def fixed64_field(number: int, value: int) -> bytes:
    return tag(number, FIXED64) + struct.pack("<Q", value)


def bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: an embedded message, or bytes."""
    return tag(number, LENGTH_DELIMITED) + varint(len(payload)) + payload


def string_field(number: int, text: str) -> bytes:
    return bytes_field(number, text.encode("utf-8"))


FIXED32 = 5


def fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """`(field number, value)` in order: varints as unsigned ints, other wire types as
    their bytes."""
    position, end = 0, len(message)
    while position < end:
        key, position = _read_varint(message, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, position = _read_varint(message, position)
            yield number, value
            continue
        if wire_type == LENGTH_DELIMITED:
            size, position = _read_varint(message, position)
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type} in field {number}")
        if position + size > end:
            raise ValueError(f"field {number} runs past the end of the message")
        yield number, message[position : position + size]
        position += size


def packed_varints(payload: bytes) -> Iterator[int]:
    position = 0
    while position < len(payload):
        value, position = _read_varint(payload, position)
        yield value


def signed(value: int) -> int:
    """An int64 read as an unsigned varint, as the signed number it encodes."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
