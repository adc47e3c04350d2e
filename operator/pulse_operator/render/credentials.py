"""Every Secret a MetricsCollector's sidecar reads, in one table.

Each credential is a Secret (or one key of it) mounted read-only as a file, and the
sidecar configuration names that file. The pod's volumes and mounts, the sidecar's
`*_file` settings and the operator's check that the Secrets exist all come from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulse_operator.api.metricscollector import MetricsCollectorSpec, SinkSpec

CONFIG_DIR = Path("/etc/pulse")
API_KEYS_DIR = CONFIG_DIR / "api-keys"
SINK_CREDENTIALS_DIR = CONFIG_DIR / "sinks"


@dataclass(frozen=True)
class Credential:
    """One Secret mounted for the sidecar."""

    volume: str
    """The pod volume's name."""
    secret: str
    """The Secret's name, in the collector's namespace."""
    key: str | None
    """The one key mounted as a file, or None for the whole Secret as a directory."""
    path: Path
    """Where the sidecar finds it."""


_SINK_CREDENTIALS = (
    ("token", "bearer_token", ("bearer_token_file",)),
    ("username", "username", ("basic_auth", "username_file")),
    ("password", "password", ("basic_auth", "password_file")),
)
"""(file name, SinkAuth field, where the sidecar's sink configuration names the file)."""


def sink_credentials(index: int, sink: SinkSpec) -> list[tuple[Credential, tuple[str, ...]]]:
    """Each credential of one sink with the sidecar setting that points at it."""
    if sink.auth is None:
        return []
    found: list[tuple[Credential, tuple[str, ...]]] = []
    for file_name, field, setting in _SINK_CREDENTIALS:
        secret_ref = getattr(sink.auth, field)
        if secret_ref is not None:
            credential = Credential(
                volume=f"sink-{index}-{file_name}",
                secret=secret_ref.name,
                key=secret_ref.key,
                path=SINK_CREDENTIALS_DIR / sink.name / file_name,
            )
            found.append((credential, setting))
    return found


def sink_settings(index: int, sink: SinkSpec) -> dict[str, Any]:
    """The sidecar sink's `*_file` settings: `bearer_token_file` or `basic_auth`."""
    settings: dict[str, Any] = {}
    for credential, setting in sink_credentials(index, sink):
        *parents, name = setting
        node = settings
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = str(credential.path)
    return settings


def credentials(spec: MetricsCollectorSpec) -> list[Credential]:
    """Every Secret the collector's sidecar mounts: the ingest API keys, then each sink's."""
    found = []
    if spec.ingest.api_keys_secret:
        found.append(Credential("api-keys", spec.ingest.api_keys_secret, None, API_KEYS_DIR))
    for index, sink in enumerate(spec.sinks):
        found.extend(credential for credential, _ in sink_credentials(index, sink))
    return found


def volumes_and_mounts(
    spec: MetricsCollectorSpec,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's Secret volumes and the sidecar's read-only mounts of them."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for credential in credentials(spec):
        source: dict[str, Any] = {"secretName": credential.secret}
        mount: dict[str, Any] = {"name": credential.volume, "mountPath": str(credential.path)}
        if credential.key is not None:
            source["items"] = [{"key": credential.key, "path": credential.path.name}]
            mount["subPath"] = credential.path.name
        volumes.append({"name": credential.volume, "secret": source})
        mounts.append({**mount, "readOnly": True})
    return volumes, mounts


def referenced_secrets(spec: MetricsCollectorSpec) -> list[str]:
    """The Secrets that must exist before the pods can start, sorted."""
    return sorted({credential.secret for credential in credentials(spec)})
