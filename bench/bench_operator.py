"""Operator convergence and scale on the local control plane.

Creates N MetricsCollectors as fast as one client can, and reports how long each took
from its create request to its last child (the PrometheusRule) existing: p50 and p99.
The floor is a plain client server-side-applying the same rendered children itself; the
ratio of the operator's total time to that floor is how much the operator adds. Then the
cluster is left alone and the operator's writes are counted from the API server's audit
log (goal: 0), and the operator's peak RSS is read from /proc.

Run: PYTHONPATH=hack .venv/bin/python bench/bench_operator.py --collectors 100 --idle 60
     (paced creation: --rate 10; issue 3's scale run: --collectors 1000 --idle 300)
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.operator import start_operator

from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import Owner
from pulse_operator.kube import KubeClient
from pulse_operator.render.collector import render_collector
from pulse_operator.settings import OperatorSettings

SPEC: dict[str, Any] = {
    "collector": {"image": "example.com/app:1"},
    "sinks": [{"name": "rw", "remoteWrite": {"url": "http://prometheus:9090/api/v1/write"}}],
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _watch_rules(
    api: kubernetes.client.ApiClient, namespace: str, seen: dict[str, float], stop: threading.Event
) -> None:
    """Records when each `<name>-alerts` PrometheusRule first appears."""
    custom = kubernetes.client.CustomObjectsApi(api)
    watch = kubernetes.watch.Watch()
    while not stop.is_set():
        for event in watch.stream(
            custom.list_namespaced_custom_object,
            "monitoring.coreos.com",
            "v1",
            namespace,
            "prometheusrules",
            timeout_seconds=5,
        ):
            name = event["object"]["metadata"]["name"].removesuffix("-alerts")
            seen.setdefault(name, time.monotonic())
            if stop.is_set():
                break  # fmt: skip


def _not_ready(custom: kubernetes.client.CustomObjectsApi) -> list[tuple[str, Any]]:
    items = custom.list_namespaced_custom_object(
        "pulse.dev", "v1alpha1", "bench", "metricscollectors"
    )["items"]
    return [
        (item["metadata"]["name"], item.get("status", {}).get("conditions"))
        for item in items
        if not any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in item.get("status", {}).get("conditions", [])
        )
    ]


def _all_ready(custom: kubernetes.client.CustomObjectsApi, count: int) -> bool:
    items = custom.list_namespaced_custom_object(
        "pulse.dev", "v1alpha1", "bench", "metricscollectors"
    )["items"]
    return len(items) == count and all(
        any(c["type"] == "Ready" and c["status"] == "True"
            for c in item.get("status", {}).get("conditions", []))
        for item in items
    )  # fmt: skip


def _operator_writes(cluster: LocalCluster) -> list[dict[str, Any]]:
    return cluster.writes_by(("pulse-operator", "kopf"))


def _floor(cluster: LocalCluster, count: int) -> float:
    """Seconds for one plain client to server-side-apply every child of `count` collectors.

    Runs with the operator stopped, on MetricsCollectors that exist (so the garbage
    collector leaves the children alone), timing only the applies."""
    api = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    kube = KubeClient(api, "bench-floor", cluster_wide=True)
    kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": "floor"}})
    custom = kubernetes.client.CustomObjectsApi(api)
    spec = MetricsCollectorSpec.model_validate(SPEC)
    settings = OperatorSettings()
    owners = []
    for i in range(count):
        created = custom.create_namespaced_custom_object(
            "pulse.dev", "v1alpha1", "floor", "metricscollectors", _collector(f"mc-{i}")
        )
        owners.append(Owner("MetricsCollector", f"mc-{i}", "floor", created["metadata"]["uid"]))
    begin = time.monotonic()
    for owner in owners:
        for child in render_collector(owner, spec, settings):
            kube.apply(child)
    return time.monotonic() - begin


def _collector(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "pulse.dev/v1alpha1",
        "kind": "MetricsCollector",
        "metadata": {"name": name},
        "spec": SPEC,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--collectors", type=int, default=100)
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds to watch writes")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="creates per second; 0 creates in one burst"
    )
    args = parser.parse_args()

    # KWOK nodes hold 110 pods each, like real ones: room for the measured and floor pods
    with LocalCluster(nodes=2 * args.collectors // 100 + 1) as cluster:
        operator = start_operator(cluster)
        try:
            api = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
            kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": "bench"}})
            time.sleep(3)  # the operator's watches are up
            seen: dict[str, float] = {}
            stop = threading.Event()
            watcher = threading.Thread(target=_watch_rules, args=(api, "bench", seen, stop))
            watcher.start()
            custom = kubernetes.client.CustomObjectsApi(api)
            created: dict[str, float] = {}
            begin = time.monotonic()
            for i in range(args.collectors):
                name = f"mc-{i}"
                if args.rate > 0:
                    time.sleep(max(0.0, begin + i / args.rate - time.monotonic()))
                created[name] = time.monotonic()
                custom.create_namespaced_custom_object(
                    "pulse.dev", "v1alpha1", "bench", "metricscollectors", _collector(name)
                )
            deadline = time.monotonic() + 180
            while len(seen) < args.collectors and time.monotonic() < deadline:
                operator.ensure_running()
                time.sleep(0.2)
            converged = max(seen.values()) - begin if seen else float("nan")
            stop.set()
            watcher.join()
            latencies = [seen[n] - created[n] for n in created if n in seen]

            # Pods become Ready after the children exist; idle starts once all report Ready.
            while time.monotonic() < deadline and not _all_ready(custom, args.collectors):
                time.sleep(1)
            ready = time.monotonic() - begin
            not_ready = _not_ready(custom)
            if not_ready:
                print(f"not Ready after {ready:.0f}s: {not_ready[:5]}", flush=True)
            time.sleep(5)  # the last status writes land in the audit log
            writes_before = _operator_writes(cluster)
            time.sleep(args.idle)
            idle_writes = _operator_writes(cluster)[len(writes_before) :]
            peak_kib = int(
                next(line for line in Path(f"/proc/{operator.pid}/status").read_text().splitlines()
                     if line.startswith("VmHWM")).split()[1]
            )  # fmt: skip
        finally:
            operator.stop()
        floor = _floor(cluster, args.collectors)

    pace = f"{args.rate:g} per second" if args.rate > 0 else "one burst"
    print(f"collectors: {args.collectors} created in {pace} (converged {len(latencies)})")
    print(
        f"create -> all children present: p50 {statistics.median(latencies):.3f}s  "
        f"p99 {_percentile(latencies, 0.99):.3f}s  max {max(latencies):.3f}s"
    )
    print(f"operator total (first create -> last converged): {converged:.2f}s")
    print(f"floor (one client server-side-applying the same children): {floor:.2f}s")
    print(f"ratio operator / floor: {converged / floor:.2f}")
    print(f"operator peak RSS: {peak_kib / 1024:.1f} MiB")
    print(f"every collector Ready after: {ready:.2f}s")
    print(f"operator writes during {args.idle:.0f}s idle: {len(idle_writes)}")
    for write in idle_writes[:10]:
        ref = write.get("objectRef", {})
        print(
            f"  {write.get('verb')} {ref.get('resource')}/{ref.get('name')} "
            f"{ref.get('subresource', '')}"
        )


if __name__ == "__main__":
    main()
