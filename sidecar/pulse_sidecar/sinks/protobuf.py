"""Just enough of the protobuf wire format to encode the two requests the sinks send.

WriteRequest (remote_write 1.0) and ExportMetricsServiceRequest (OTLP) are small, stable
messages; a few lines of varint and length-delimited writing avoid generated code and a
runtime dependency for them.
"""

from __future__ import annotations

import struct

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
