"""Fixtures for the sidecar's unit tests: a configuration and the real application on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sidecar_testing import StartSidecar, make_settings

from pulse_sidecar import app


@pytest.fixture
def start_sidecar(aiohttp_client: AiohttpClient, tmp_path: Path) -> StartSidecar:
    """Starts the real application with `make_settings(**overrides)`; stopped after the test."""

    async def start(**overrides: Any) -> TestClient[Any, Any]:
        return await aiohttp_client(app.create_app(make_settings(tmp_path, **overrides)))

    return start
