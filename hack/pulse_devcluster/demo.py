"""`make demo`: the operator on the local control plane, the examples, what they produced."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.operator import start_operator

EXAMPLE_DIRS = ("examples/collectors", "examples/slos")
READY_TIMEOUT = "120s"


def _section(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _alert_summary(cluster: LocalCluster) -> str:
    """One line per generated alert: rule, alert name, severity, windows where present."""
    rules = json.loads(cluster.kubectl("get", "prometheusrules", "-A", "-o", "json").stdout)
    lines = []
    for rule in rules["items"]:
        where = f"{rule['metadata']['namespace']}/{rule['metadata']['name']}"
        for group in rule["spec"]["groups"]:
            recorded = sum(1 for r in group["rules"] if "record" in r)
            lines.append(f"{where}: {recorded} recording rules")
            for r in (r for r in group["rules"] if "alert" in r):
                labels = r.get("labels", {})
                windows = (
                    f" (long {labels['long_window']}, short {labels['short_window']})"
                    if "long_window" in labels
                    else ""
                )
                lines.append(f"  {r['alert']:<24} {labels.get('severity', ''):<8}{windows}")
    return "\n".join(lines)


def _show(cluster: LocalCluster) -> None:
    _section("Pulse resources (kubectl get pulse -A)")
    print(cluster.kubectl("get", "pulse", "-A", "-o", "wide").stdout)
    _section("Their children (label app.kubernetes.io/managed-by=pulse-operator)")
    print(
        cluster.kubectl(
            "get",
            "deployments,services,configmaps,servicemonitors,podmonitors,prometheusrules,pods",
            "-A",
            "-l",
            "app.kubernetes.io/managed-by=pulse-operator",
        ).stdout
    )
    _section("Generated alerts")
    print(_alert_summary(cluster))
    _section("SLO burn-rate windows (status.burnRateWindows)")
    print(
        cluster.kubectl(
            "get",
            "slos",
            "-A",
            "-o",
            "custom-columns=SLO:.metadata.name,WINDOW:.spec.window,"
            "FACTORS:.status.burnRateWindows[*].burnRateFactor,"
            "LONG:.status.burnRateWindows[*].longWindow",
        ).stdout
    )


@contextlib.contextmanager
def running(cluster: LocalCluster) -> Iterator[int]:
    """Runs the operator, applies the examples and shows the result; yields the exit status
    (0 when every example is Ready) while the operator keeps running."""
    operator = start_operator(cluster)
    try:
        print(f"Operator running (pid {operator.pid}), logs in {operator.log_path}", flush=True)
        for directory in EXAMPLE_DIRS:
            print(cluster.kubectl("apply", "-f", str(paths.REPO_ROOT / directory)).stdout, end="")
        waited = cluster.kubectl(
            "wait", "--for=condition=Ready", "metricscollectors,slos", "--all", "-A",
            f"--timeout={READY_TIMEOUT}", check=False,
        )  # fmt: skip
        operator.ensure_running()
        _show(cluster)
        if waited.returncode == 0:
            print("Every example is Ready.", flush=True)
        else:
            print(f"Not every example became Ready:\n{waited.stderr}", flush=True)
        yield 0 if waited.returncode == 0 else 1
    finally:
        operator.stop()
