"""`make images` for real: hack/images/build.sh builds the four images with podman and
writes them as docker archives that containerd can import; a second run finds them all in
its cache and rebuilds nothing.

It needs root on Linux (podman with its own storage, mmdebstrap). Elsewhere it is skipped
with the reason, except with CI=true, where a machine that cannot build is a failure. Cold,
the first run takes minutes (measured in the report of `make images`); cached, seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "images" / "build.sh"
OUT = REPO / ".pulse" / "images"
EXPECTED = {
    "pulse-operator": "pulse-operator:0.1.0",
    "pulse-sidecar": "pulse-sidecar:0.1.0",
    "pulse-demo-collector": "pulse-demo-collector:0.1.0",
    "pulse-pause": "pulse-pause:1.0",
}
ENTRYPOINTS = {
    "pulse-operator": ["/opt/pulse/bin/pulse-operator"],
    "pulse-sidecar": ["/opt/pulse/bin/pulse-sidecar"],
    "pulse-demo-collector": ["python3", "/opt/demo-collector/app.py"],
    "pulse-pause": ["/pause"],
}
COLD_TIMEOUT = 3600  # a cold build on a 2-core machine takes a few minutes


def _why_not_here() -> str | None:
    if sys.platform != "linux":
        return f"building images needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "building images needs root (podman with its own storage, mmdebstrap)"
    return None


@dataclasses.dataclass(frozen=True)
class Run:
    report: str
    """What the script printed (it reports on stderr, one line per image)."""
    seconds: float


@pytest.fixture(scope="module")
def builds() -> list[Run]:
    """Two runs of the build script, the second right after the first."""
    reason = _why_not_here()
    if reason is not None and os.environ.get("CI") != "true":
        pytest.skip(reason)
    runs = []
    for timeout in (COLD_TIMEOUT, 300):
        started = time.monotonic()
        result = subprocess.run(
            [BUILD], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert result.returncode == 0, result.stderr[-4000:]
        runs.append(Run(result.stderr, time.monotonic() - started))
    return runs


def _archive(name: str) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """The docker archive's manifest.json, the image config and the files of its top layer."""
    with tarfile.open(OUT / f"{name}.tar") as archive:

        def read(member: str) -> bytes:
            extracted = archive.extractfile(member)
            assert extracted is not None, member
            return extracted.read()

        manifest = json.loads(read("manifest.json"))
        config = json.loads(read(manifest[0]["Config"]))
        with tarfile.open(fileobj=archive.extractfile(manifest[0]["Layers"][-1])) as layer:
            files = layer.getnames()
    return manifest, config, files


def test_the_four_archives_are_docker_archives_with_the_expected_tags(
    builds: list[Run],
) -> None:
    for name, tag in EXPECTED.items():
        manifest, config, _ = _archive(name)
        assert [entry["RepoTags"] for entry in manifest] == [[tag]], name
        assert config["config"]["Entrypoint"] == ENTRYPOINTS[name], name


def test_the_images_run_as_non_root_and_pause_is_one_static_binary(
    builds: list[Run],
) -> None:
    for name in ("pulse-operator", "pulse-sidecar", "pulse-demo-collector"):
        _, config, _ = _archive(name)
        assert config["config"]["User"] == "65532:65532", name
        labels = config["config"]["Labels"]
        assert labels["org.opencontainers.image.title"] == name
        assert "Debian's python3" in labels["dev.pulse.base"], "the local base says what it is"
    _, config, files = _archive("pulse-pause")
    assert files == ["pause"]
    assert config["config"]["User"] == "65535:65535"


def test_a_second_run_takes_everything_from_the_cache(
    builds: list[Run],
) -> None:
    second = builds[1]
    for name in EXPECTED:
        (line,) = [
            line
            for line in second.report.splitlines()
            if line.startswith(f"make images: {name}.tar ")
        ]
        assert "up to date" in line, line
    assert "podman build" not in second.report
    assert "mmdebstrap" not in second.report
    assert second.seconds < 60, f"a cached run took {second.seconds:.0f} s"
