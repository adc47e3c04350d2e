"""How long the local control plane takes to start and stop (binaries already built).

Prints the figures of a few cold starts: from nothing to a cluster whose API server is
ready, CRDs established and fake nodes Ready and untainted; and the time to stop it.
Run: make bench (or PYTHONPATH=hack .venv/bin/python bench/bench_cluster_startup.py [N]).
"""

from __future__ import annotations

import statistics
import sys
import time

from pulse_devcluster.cluster import LocalCluster


def main(runs: int) -> None:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(runs):
        cluster = LocalCluster()
        cluster.start()
        starts.append(cluster.startup_seconds)
        begin = time.monotonic()
        cluster.stop()
        stops.append(time.monotonic() - begin)
    print(
        f"control plane start-up over {runs} runs (etcd, apiserver, controller-manager, "
        "scheduler, kwok, Pulse and Prometheus Operator CRDs, 1 node):"
    )
    print(
        f"  start: median {statistics.median(starts):.2f}s  min {min(starts):.2f}s  "
        f"max {max(starts):.2f}s"
    )
    print(f"  stop:  median {statistics.median(stops):.2f}s  max {max(stops):.2f}s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
