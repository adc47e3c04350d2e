"""Fixtures for the demo collector: the real app in-process on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from demo_testing import StartDemo, demo


@pytest.fixture
def start_demo() -> Iterator[StartDemo]:
    apps: list[Any] = []

    def start(**overrides: Any) -> Any:
        knobs = demo.Knobs(**overrides.pop("knobs", {}))
        defaults: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "knobs": knobs,
            "sidecar_url": "http://127.0.0.1:9",  # the discard port: nothing listens
            "event_interval_seconds": 3600.0,
            "instance_id": "demo-test",
        }
        app = demo.App(demo.Settings(**{**defaults, **overrides}))
        app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()
