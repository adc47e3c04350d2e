"""The images, as far as this machine can go without a container engine: hadolint finds
nothing in the Dockerfiles, they follow the rules an auditor checks, and their build stage,
replayed into a fresh virtual environment, installs exactly the pinned runtime packages
and gives working entry points.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).with_name("hadolint")
IMAGES = {"operator": REPO / "Dockerfile.operator", "sidecar": REPO / "Dockerfile.sidecar"}
DEMO_DOCKERFILE = REPO / "examples" / "apps" / "demo-collector" / "Dockerfile"
"""Linted like the others; not one of IMAGES (one stage, no pip: the rules below differ)."""
OCI_LABELS = {"title", "description", "version", "source", "licenses"}
BAD_DOCKERFILE = """FROM python:latest
RUN apt-get update && apt-get install -y curl
RUN pip install requests
"""


@dataclass
class Stage:
    """One FROM ... stage: its base and its instructions, in order."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for key, arguments in self.instructions if key == keyword]


def parse(dockerfile: Path) -> list[Stage]:
    """The stages of a Dockerfile (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append(Stage(base=arguments.split()[0]))
        elif stages:
            stages[-1].instructions.append((keyword, arguments.strip()))
    return stages


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [HADOLINT, *IMAGES.values(), DEMO_DOCKERFILE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_report_a_careless_dockerfile(tmp_path: Path) -> None:
    """The check above can fail: the same binary flags what the Dockerfiles avoid."""
    careless = tmp_path / "Dockerfile"
    careless.write_text(BAD_DOCKERFILE)
    result = subprocess.run(
        [HADOLINT, "--format", "json", careless],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3008", "DL3013"} <= codes  # latest tag, unpinned apt, unpinned pip


@pytest.mark.parametrize("image", IMAGES)
def test_the_dockerfile_follows_the_image_rules(image: str) -> None:
    stages = parse(IMAGES[image])
    assert len(stages) == 2, "a build stage and a runtime stage"
    build, runtime = stages
    # a slim Python base pinned to an exact version, the same in both stages, no registry
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", runtime.base), runtime.base
    assert build.base == runtime.base
    # dependencies from the constraints file
    (install,) = build.all("RUN")
    assert "PIP_CONSTRAINT=/src/constraints.txt" in install
    # a numeric, non-root user
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) > 0
    # the console script, started without a shell
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert json.loads(entrypoint) == [f"/opt/pulse/bin/pulse-{image}"]
    assert not runtime.all("RUN"), "nothing runs at build time in the runtime stage"
    labels = " ".join(runtime.all("LABEL"))
    assert {m for m in re.findall(r"org\.opencontainers\.image\.(\w+)=", labels)} >= OCI_LABELS


def _replay_build_stage(stage: Stage, root: Path, shims: Path) -> None:
    """Runs the build stage's COPY and RUN on this machine, with / moved to `root`.

    One deliberate difference: pip may use its cache (the image builds with
    --no-cache-dir to keep the layer small), so that a rerun needs no network.
    """
    workdir = root
    for keyword, arguments in stage.instructions:
        if keyword == "WORKDIR":
            workdir = root / arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = shlex.split(arguments)
            target = workdir / destination
            for source in sources:
                origin = REPO / source
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        target,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"),
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif keyword == "RUN":
            command = arguments.replace("--no-cache-dir", "")
            command = re.sub(r"(?<![\w/])/(src|opt)\b", lambda m: f"{root}/{m.group(1)}", command)
            env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
            env.pop("PIP_CONSTRAINT", None)
            env.pop("VIRTUAL_ENV", None)
            result = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert result.returncode == 0, result.stderr[-3000:]
        else:
            raise AssertionError(f"the replay does not know {keyword}: teach it, or simplify")


def _python_shim(directory: Path) -> Path:
    """`python` on PATH is the interpreter this project runs on, as in the base image."""
    directory.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (directory / "python").symlink_to(base)
    return directory


def _constraints() -> set[str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    return {line.strip().lower().replace("_", "-") for line in lines if "==" in line}


@pytest.mark.parametrize("image", IMAGES)
def test_the_build_stage_installs_pinned_packages_and_working_entry_points(
    image: str, tmp_path: Path
) -> None:
    build, runtime = parse(IMAGES[image])
    _replay_build_stage(build, tmp_path / "root", _python_shim(tmp_path / "shims"))
    venv = tmp_path / "root" / "opt" / "pulse"
    freeze = subprocess.run(
        [venv / "bin" / "pip", "freeze", "--exclude", "pulse", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    installed = {line.lower().replace("_", "-") for line in freeze.stdout.split()}
    assert installed <= _constraints(), f"not pinned: {installed - _constraints()}"
    assert not {"pytest", "ruff", "mypy"} & {line.split("==")[0] for line in installed}
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (binary,) = json.loads(entrypoint)
    for program in (binary, "/opt/pulse/bin/pulse-operator", "/opt/pulse/bin/pulse-sidecar"):
        result = subprocess.run(
            [tmp_path / "root" / program.lstrip("/"), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: {Path(program).name}")
