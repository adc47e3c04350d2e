"""Shared test configuration: everything under tests/integration/ is marked `integration`,
everything under tests/e2e/ (the real-node stage, `make e2e`) `e2e`."""

from __future__ import annotations

from pathlib import Path

import pytest

# tests.support asserts (assert_matches_golden): let pytest explain its failures too.
pytest.register_assert_rewrite("tests.support")

_INTEGRATION_DIR = Path(__file__).parent / "integration"
_E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parents = Path(str(item.path)).parents
        if _INTEGRATION_DIR in parents:
            item.add_marker(pytest.mark.integration)
        elif _E2E_DIR in parents:
            item.add_marker(pytest.mark.e2e)
