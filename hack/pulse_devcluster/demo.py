"""What `make demo` shows once the control plane is up."""

from __future__ import annotations

from pulse_devcluster.cluster import LocalCluster


def run(cluster: LocalCluster) -> int:
    """Shows the installed CRDs; returns the demo's exit status."""
    print("\nInstalled CRDs (Pulse's from crds/, Prometheus Operator's from its pinned module):")
    print(cluster.kubectl("get", "crds").stdout)
    print("The operator is not implemented yet: the control plane and CRDs are ready for it.")
    return 0
