"""`make cluster` and `make demo`: the local control plane in the foreground."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from types import FrameType

from pulse_devcluster import demo, paths
from pulse_devcluster.cluster import ClusterError, LocalCluster
from pulse_devcluster.processes import ProcessFailedError


class _StopRequestedError(Exception):
    """Raised in the main thread by SIGTERM so that every process is stopped."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def _wait_forever(cluster: LocalCluster) -> None:
    """Returns only by a signal, or raises if a component exits."""
    while True:
        cluster.ensure_running()
        time.sleep(1.0)


def _serve(cluster: LocalCluster) -> None:
    """Says how to use the cluster, then runs until a signal (or a component fails)."""
    print(
        f"\nexport KUBECONFIG={paths.DEFAULT_KUBECONFIG}\n"
        f"Try: {paths.BIN_DIR / 'kubectl'} get pulse -A\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    _wait_forever(cluster)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulse_devcluster", description=__doc__)
    parser.add_argument("command", choices=["cluster", "demo"])
    parser.add_argument("--nodes", type=int, default=1, help="how many KWOK nodes to simulate")
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_stop)
    try:
        print(
            "Starting the local control plane (etcd, kube-apiserver, "
            "kube-controller-manager, kube-scheduler, kwok)...",
            flush=True,
        )
        with LocalCluster(nodes=args.nodes, kubeconfig_path=paths.DEFAULT_KUBECONFIG) as cluster:
            print(
                f"Control plane ready in {cluster.startup_seconds:.1f}s at {cluster.server}; "
                f"logs in {cluster.log_dir}",
                flush=True,
            )
            if args.command == "demo":
                with demo.running(cluster) as status:
                    if os.environ.get("DEMO_ONCE") == "1":
                        return status
                    _serve(cluster)
            else:
                _serve(cluster)
    except _StopRequestedError:
        print("\nStopped; every process was shut down.", flush=True)
        return 0
    except (ClusterError, ProcessFailedError, paths.MissingToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
