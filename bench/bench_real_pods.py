"""Real pods beside simulated ones: how long a MetricsCollector takes from `kubectl apply` to
Ready on the real node (containerd, runc, real probes) and on a KWOK node, and what the
sidecar container costs in its pod's cgroup, at rest and scraping the demo collector.

Needs root on Linux and `make images` (run by make e2e). Run:
  PYTHONPATH=hack .venv/bin/python bench/bench_real_pods.py [RUNS]
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pulse_devcluster import node
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.operator import start_operator

REPO = Path(__file__).resolve().parents[1]
DEMO = next(
    d
    for d in yaml.safe_load_all((REPO / "examples/real-node/demo.yaml").read_text())
    if d["kind"] == "MetricsCollector"
)
NAMESPACE = "bench"
SAMPLE_SECONDS = 30.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _collector(name: str, real: bool, scrape: bool = True) -> dict[str, Any]:
    collector = copy.deepcopy(DEMO)
    collector["metadata"] = {"name": name, "namespace": NAMESPACE}
    spec = collector["spec"]
    spec["sinks"] = []
    if not scrape:
        spec["scrape"] = {"targets": []}
    if not real:  # the same collector on the KWOK node: no selector, no toleration
        del spec["nodeSelector"], spec["tolerations"]
    return collector


def _ready(cluster: LocalCluster, name: str) -> bool:
    got = cluster.kubectl("get", "mc", name, "-n", NAMESPACE, "-o", "json", check=False)
    if got.returncode != 0:
        return False
    conditions = json.loads(got.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _time_to_ready(cluster: LocalCluster, name: str, real: bool) -> float:
    document = json.dumps(_collector(name, real))
    begin = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=document)
    while not _ready(cluster, name):
        if time.monotonic() - begin > 120:
            raise RuntimeError(f"{name} not Ready after 120 s")
        time.sleep(0.05)
    elapsed = time.monotonic() - begin
    cluster.kubectl("delete", "mc", name, "-n", NAMESPACE, "--wait=true")
    return elapsed


def _container_cgroup(cluster: LocalCluster, name: str, container: str) -> Path:
    pods = json.loads(
        cluster.kubectl(
            "get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={name}",
            "-o", "json",
        ).stdout
    )["items"]  # fmt: skip
    (status,) = [s for s in pods[0]["status"]["containerStatuses"] if s["name"] == container]
    container_id = status["containerID"].removeprefix("containerd://")
    (found,) = Path("/sys/fs/cgroup/memory").glob(f"pulse-node-*/**/{container_id}")
    return found


def _cost(cluster: LocalCluster, name: str, real_scrape: bool) -> tuple[float, float, float]:
    """Anonymous RSS and working set (MiB, at the end; the working set is what the kubelet
    and `kubectl top` count) and CPU (% of a core, over SAMPLE_SECONDS) of the sidecar."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps(_collector(name, True, real_scrape)))
    deadline = time.monotonic() + 120
    while not _ready(cluster, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(10)  # past start-up
    memory = _container_cgroup(cluster, name, "pulse-sidecar")
    cpu = Path(str(memory).replace("/memory/", "/cpuacct/")) / "cpuacct.usage"
    used_before, begin = int(cpu.read_text()), time.monotonic()
    time.sleep(SAMPLE_SECONDS)
    used = (int(cpu.read_text()) - used_before) / 1e9 / (time.monotonic() - begin)
    stat = dict(line.split() for line in (memory / "memory.stat").read_text().splitlines())
    usage = int((memory / "memory.usage_in_bytes").read_text())
    working_set = usage - int(stat["total_inactive_file"])
    cluster.kubectl("delete", "mc", name, "-n", NAMESPACE, "--wait=true")
    return int(stat["total_rss"]) / 2**20, working_set / 2**20, 100 * used


def main(runs: int) -> None:
    reason = node.unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return
    with LocalCluster() as cluster, node.RealNode(cluster) as real:
        print(f"real node Ready in {real.startup_seconds:.1f}s (images imported)", flush=True)
        cluster.kubectl("create", "namespace", NAMESPACE)
        operator = start_operator(cluster)
        try:
            figures: dict[str, list[float]] = {"kwok": [], "real": []}
            for i in range(runs):
                for kind in figures:
                    figures[kind].append(_time_to_ready(cluster, f"{kind}-{i}", kind == "real"))
            print(f"MetricsCollector applied -> Ready, {runs} runs each:")
            for kind, values in figures.items():
                print(
                    f"  {kind:<4} p50 {statistics.median(values):.2f}s  "
                    f"p99 {_percentile(values, 0.99):.2f}s  max {max(values):.2f}s"
                )
            ratio = statistics.median(figures["real"]) / statistics.median(figures["kwok"])
            print(f"  ratio real / kwok (p50): {ratio:.2f}")
            for label, scrape in (("at rest", False), ("scraping the demo collector", True)):
                rss, working_set, cpu = _cost(cluster, f"cost-{int(scrape)}", scrape)
                print(
                    f"sidecar container {label}: RSS {rss:.1f} MiB (anonymous), working set "
                    f"{working_set:.1f} MiB, CPU {cpu:.2f}% of a core"
                )
        finally:
            operator.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
