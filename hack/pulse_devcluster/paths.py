"""Where the repository keeps what the dev cluster needs."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PULSE_DIR = REPO_ROOT / ".pulse"
BIN_DIR = PULSE_DIR / "bin"
DATA_DIR = PULSE_DIR / "data"
THIRD_PARTY_CRDS_DIR = DATA_DIR / "crds"
KWOK_STAGES_DIR = DATA_DIR / "kwok-stages"
IMAGES_DIR = PULSE_DIR / "images"
"""Image archives that `make images` writes, for a real node to import."""
PULSE_CRDS_DIR = REPO_ROOT / "crds"
DEFAULT_KUBECONFIG = PULSE_DIR / "kubeconfig"


class MissingToolError(RuntimeError):
    """A binary or file that `make tools` produces is not there."""


def binary(name: str) -> Path:
    """The path of a tool built by `make tools`, or a clear error saying how to get it."""
    path = BIN_DIR / name
    if not path.is_file():
        raise MissingToolError(f"{path} is missing: run `make tools` to build it (needs Go 1.24+)")
    return path


def third_party_crds() -> list[Path]:
    """Prometheus Operator's CRD files, copied by `make tools` from its pinned module."""
    files = sorted(THIRD_PARTY_CRDS_DIR.glob("*.yaml"))
    if not files:
        raise MissingToolError(
            f"no CRDs in {THIRD_PARTY_CRDS_DIR}: run `make tools` to fetch Prometheus Operator's"
        )
    return files


def kwok_stages() -> list[Path]:
    """KWOK's stage files that make simulated nodes and pods become Ready."""
    files = sorted(KWOK_STAGES_DIR.glob("*.yaml"))
    if not files:
        raise MissingToolError(f"no KWOK stages in {KWOK_STAGES_DIR}: run `make tools`")
    return files


def pulse_crds() -> list[Path]:
    """Pulse's own CRD files (one per CRD); empty until the CRDs exist."""
    return sorted(PULSE_CRDS_DIR.glob("*.yaml"))
