"""The real promtool, built by `make tools`: these tests fail, never skip, without it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pulse_devcluster import paths

Promtool = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def promtool() -> Promtool:
    """Runs `promtool ARGS...` and fails the test, with its output, unless it exits 0."""
    try:
        binary = paths.binary("promtool")
    except paths.MissingToolError as error:
        pytest.fail(str(error))

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(binary), *map(str, args)], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.fail(
                f"promtool {' '.join(map(str, args))} exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done

    return run
