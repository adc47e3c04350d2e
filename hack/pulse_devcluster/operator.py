"""The real operator (`pulse-operator run`) against a LocalCluster, as a managed child."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess, free_port


def start_operator(
    cluster: LocalCluster, *args: str, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    """Starts the venv's `pulse-operator run` with the cluster's kubeconfig and `env`
    added to this process's environment; its log goes beside the cluster's. The caller
    stops it."""
    return ManagedProcess.start(
        "pulse-operator",
        [
            Path(sys.executable).with_name("pulse-operator"),
            "run",
            f"--liveness=http://127.0.0.1:{free_port()}/healthz",
            *args,
        ],
        cluster.log_dir,
        env={**os.environ, **(env or {}), "KUBECONFIG": str(cluster.kubeconfig)},
    )
