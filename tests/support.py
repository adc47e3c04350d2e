"""Small helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def eventually(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Polls `check` until it returns something true, or fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.2)
