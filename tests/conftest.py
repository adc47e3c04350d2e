"""Shared test configuration: everything under tests/integration/ is marked `integration`."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests.support asserts (assert_matches_golden): let pytest explain its failures too.
pytest.register_assert_rewrite("tests.support")

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _INTEGRATION_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
