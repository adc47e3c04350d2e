"""Helpers shared by the sidecar's unit tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from pulse_sidecar import config

StartSidecar = Callable[..., Awaitable[TestClient[Any, Any]]]
"""The `start_sidecar` fixture: starts the real application with settings overrides."""


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied, mappings merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_settings(tmp_path: Path, **overrides: Any) -> config.SidecarConfig:
    """A configuration for tests: loopback only, no cgroups, the spool in `tmp_path`."""
    base: dict[str, Any] = {
        "collector": {"name": "checkout", "namespace": "shop", "pod": "checkout-7d9f"},
        "server": {"address": "127.0.0.1", "port": 8000},
        "resources": {"enabled": False},
        "spool": {"path": str(tmp_path / "spool.db")},
    }
    return config.SidecarConfig.model_validate(merge(base, overrides))


def protobuf_fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a protobuf message, in order.

    Varints come back as ints, fixed64 and length-delimited fields as bytes: enough for
    tests to take the sinks' hand-written encodings apart independently of the encoder.
    """
    fields: list[tuple[int, int | bytes]] = []
    position = 0

    def varint() -> int:
        nonlocal position
        result = shift = 0
        while True:
            byte = message[position]
            position += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
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


def submessages(message: bytes, number: int) -> list[bytes]:
    return [
        value for n, value in protobuf_fields(message) if n == number and isinstance(value, bytes)
    ]


def scalar(message: bytes, number: int) -> int | bytes | None:
    values = [value for n, value in protobuf_fields(message) if n == number]
    return values[-1] if values else None
