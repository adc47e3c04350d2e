"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    """Polls `check` until it returns something true, which is returned; fails the test
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.2)
    return value


def assert_matches_golden(rendered: str, golden: Path) -> None:
    """Asserts `rendered` is the golden file's text. With PULSE_UPDATE_GOLDEN=1 the golden
    file (and its directory) is written first, for the diff to be reviewed."""
    if os.environ.get("PULSE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert golden.exists(), f"no golden file: run with PULSE_UPDATE_GOLDEN=1 to create {golden}"
    assert rendered == golden.read_text(), (
        f"the rendering differs from {golden.name}: if the change is meant, "
        "regenerate with PULSE_UPDATE_GOLDEN=1 and review the diff"
    )
