"""`make cluster` and `make demo`: the local control plane in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType

from pulse_devcluster import demo, node, paths
from pulse_devcluster.cluster import ClusterError, LocalCluster
from pulse_devcluster.host import HostError
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
        f"\nexport KUBECONFIG={cluster.kubeconfig}\n"
        f"Try: {paths.BIN_DIR / 'kubectl'} get pulse -A\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    _wait_forever(cluster)


@contextlib.contextmanager
def _real_node(cluster: LocalCluster, wanted: str, network: int) -> Iterator[node.RealNode | None]:
    """A real node when asked for ("yes"), or when the machine allows it ("auto")."""
    reason = None if wanted == "yes" else node.unavailable_reason()
    if wanted == "no" or reason:
        why = "--real-node=no" if wanted == "no" else reason
        print(f"Nodes: KWOK only (simulated pods; {why})", flush=True)
        yield None
        return
    print("Starting a real node (containerd, runc, kubelet) and loading the images...", flush=True)
    with node.RealNode(cluster, network=network) as real:
        print(
            f"Nodes: KWOK and the real node {real.name} (Ready in {real.startup_seconds:.1f}s; "
            f"logs in {real.log_dir})",
            flush=True,
        )
        yield real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulse_devcluster", description=__doc__)
    parser.add_argument("command", choices=["cluster", "demo"])
    parser.add_argument("--nodes", type=int, default=1, help="how many KWOK nodes to simulate")
    parser.add_argument(
        "--real-node",
        choices=["auto", "yes", "no"],
        default="auto",
        help="add a real kubelet+containerd node (auto: when root on Linux with the images)",
    )
    parser.add_argument(
        "--real-node-network",
        type=int,
        default=0,
        choices=range(256),
        metavar="N",
        help="the real node's pod subnet is 10.245.N.0/24 (default 0)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=pathlib.Path,
        default=paths.DEFAULT_KUBECONFIG,
        help=f"where to write the admin kubeconfig (default {paths.DEFAULT_KUBECONFIG})",
    )
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_stop)
    try:
        print(
            "Starting the local control plane (etcd, kube-apiserver, "
            "kube-controller-manager, kube-scheduler, kwok)...",
            flush=True,
        )
        with LocalCluster(nodes=args.nodes, kubeconfig_path=args.kubeconfig) as cluster:
            print(
                f"Control plane ready in {cluster.startup_seconds:.1f}s at {cluster.server}; "
                f"logs in {cluster.log_dir}",
                flush=True,
            )
            with _real_node(cluster, args.real_node, args.real_node_network) as real:
                if args.command == "demo":
                    with demo.running(cluster, real) as status:
                        if os.environ.get("DEMO_ONCE") == "1":
                            return status
                        _serve(cluster)
                else:
                    _serve(cluster)
    except _StopRequestedError:
        print("\nStopped; every process was shut down.", flush=True)
        return 0
    except (ClusterError, HostError, ProcessFailedError, paths.MissingToolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
