"""Who is collecting: the labels on every series, and what goes on an info series instead.

Every series carries `collector`, `namespace` and `pod`. The container id and the sidecar's
version change on every restart or upgrade; as labels they would start new series for all
data each time, so they are published once, on `collector_info`, as Prometheus' *_info
convention does, and shown on /status.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from pulse_sidecar import config

_CONTAINER_ID = re.compile(r"\b([0-9a-f]{64})\b")


def labels(collector: config.CollectorIdentity) -> dict[str, str]:
    """The identity labels that have a value (an empty label is no label in Prometheus)."""
    pairs = {"collector": collector.name, "namespace": collector.namespace, "pod": collector.pod}
    return {name: value for name, value in pairs.items() if value}


def version() -> str:
    """The installed version of Pulse."""
    try:
        return importlib.metadata.version("pulse")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def container_id(proc_self: Path = Path("/proc/self")) -> str:
    """The id of the container running this process, as the runtime names it; "" if unknown.

    Runtimes put the 64-hex-digit id in the cgroup path (cgroup v1, and v2 without a cgroup
    namespace) or in the paths of the files they mount (/etc/hostname, /etc/hosts).
    """
    for name in ("cgroup", "mountinfo"):
        try:
            text = (proc_self / name).read_text()
        except OSError:
            continue
        found = _CONTAINER_ID.search(text)
        if found:
            return found.group(1)
    return ""
