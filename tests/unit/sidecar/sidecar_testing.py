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
