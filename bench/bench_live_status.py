"""What the live status costs: requests to Prometheus and status writes per period.

The real operator on the local control plane, with N SLOs and PULSE_PROMETHEUS_URL set to
a loopback server that answers /api/v1/rules and /api/v1/query as Prometheus does: one
healthy rule group per SLO, in the file Prometheus Operator would name for its rule (the
real uids), and each SLO's recorded series. (The chain with a real Prometheus is proven
in tests/integration/live; here the answers are made so that they can hold still, then
move, for every SLO at once.) Two phases of P periods each:

- steady: the numbers hold still; the operator should write nothing (the idle-write count);
- moving: every SLI moves by more than its rounding each period; the bound is one status
  write per SLO per period.

Printed per phase: requests the Prometheus saw per period (the design's claim: 2, whatever
N; the peer, one query per SLO per period, is N), status writes per period, and the
operator's CPU seconds per period (from /proc).

Run: PYTHONPATH=hack .venv/bin/python bench/bench_live_status.py --slos 100 --period 10 --periods 6
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import kubernetes
from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.loopback import serve
from pulse_devcluster.operator import start_operator

NAMESPACE = "bench"
SPEC: dict[str, Any] = {
    "service": "api",
    "objective": 99.0,
    "window": "30d",
    "sli": {
        "ratio": {
            "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            "totalQuery": "sum(rate(http_requests_total[{{.window}}]))",
        }
    },
}


class FakePrometheus:
    """Answers for every SLO whose rule uid it was told; `error_ratio` is what each
    SLO's window error ratio is now (the test moves it)."""

    def __init__(self) -> None:
        self.uids: dict[str, str] = {}
        self.error_ratio = 0.001
        self.requests = 0
        self._lock = threading.Lock()

    def handle(self, request: BaseHTTPRequestHandler) -> bytes:
        with self._lock:
            self.requests += 1
        url = urlparse(request.path)
        if url.path == "/api/v1/rules":
            return json.dumps({"status": "success", "data": {"groups": self._groups()}}).encode()
        assert "query" in parse_qs(url.query), request.path
        return json.dumps({"status": "success", "data": self._series()}).encode()

    def _groups(self) -> list[dict[str, Any]]:
        return [
            {"name": f"pulse-slo-{name}", "file": f"/rules/{NAMESPACE}-{name}-slo-{uid}.yaml",
             "lastEvaluation": "2026-12-02T15:00:00Z",
             "rules": [{"name": "r", "health": "ok", "type": "recording"}] * 30}
            for name, uid in self.uids.items()
        ]  # fmt: skip

    def _series(self) -> dict[str, Any]:
        ratio = self.error_ratio
        values = {
            "pulse_slo:sli_total_events:rate5m": 100.0,
            "pulse_slo:sli_error:ratio_rate30d": ratio,
            "pulse_slo:error_budget_remaining:ratio": 1 - ratio / 0.01,
            "pulse_slo:current_burn_rate:ratio": 0.1,
            "pulse_slo:sli_error:ratio_rate5m": 0.001,
        }
        result = [
            {"metric": {"__name__": metric, "namespace": NAMESPACE, "slo": name},
             "value": [time.time(), str(value)]}
            for name in self.uids for metric, value in values.items()
        ]  # fmt: skip
        return {"resultType": "vector", "result": result}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_writes(cluster: LocalCluster) -> int:
    return sum(
        1
        for w in cluster.writes_by(("pulse-operator", "kopf"))
        if str(w.get("requestURI", "")).split("?")[0].endswith("/status")
    )


def _all_live(custom: kubernetes.client.CustomObjectsApi, count: int) -> bool:
    items = custom.list_namespaced_custom_object("pulse.dev", "v1alpha1", NAMESPACE, "slos")
    live = [i for i in items["items"] if "live" in (i.get("status") or {})]
    return len(live) == count


def _phase(
    name: str,
    cluster: LocalCluster,
    fake: FakePrometheus,
    pid: int,
    period: float,
    periods: int,
    move: bool,
) -> None:
    time.sleep(2)  # the audit log's last batch lands
    writes, requests, cpu = _status_writes(cluster), fake.requests, _cpu_seconds(pid)
    for _ in range(periods):
        if move:
            fake.error_ratio += 0.0001  # SLI -0.01 percentage points: above its rounding
        time.sleep(period)
    time.sleep(2)
    print(
        f"{name:>7}: {(fake.requests - requests) / periods:5.1f} Prometheus requests/period, "
        f"{(_status_writes(cluster) - writes) / periods:6.1f} status writes/period, "
        f"{(_cpu_seconds(pid) - cpu) / periods:5.2f} operator CPU s/period",
        flush=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--periods", type=int, default=6)
    args = parser.parse_args()
    fake = FakePrometheus()
    crds = [*paths.pulse_crds(), *paths.third_party_crds()]
    with serve(fake.handle) as port, LocalCluster(crd_files=crds) as cluster:
        env = {"PULSE_PROMETHEUS_URL": f"http://127.0.0.1:{port}",
               "PULSE_LIVE_STATUS_SECONDS": str(args.period)}  # fmt: skip
        operator = start_operator(cluster, env=env)
        try:
            api = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
            kubernetes.client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
            custom = kubernetes.client.CustomObjectsApi(api)
            for i in range(args.slos):
                body = {"apiVersion": "pulse.dev/v1alpha1", "kind": "SLO",
                        "metadata": {"name": f"slo-{i}"}, "spec": SPEC}  # fmt: skip
                custom.create_namespaced_custom_object(
                    "pulse.dev", "v1alpha1", NAMESPACE, "slos", body
                )
            deadline = time.monotonic() + 300
            while len(fake.uids) < args.slos and time.monotonic() < deadline:
                rules = custom.list_namespaced_custom_object(
                    "monitoring.coreos.com", "v1", NAMESPACE, "prometheusrules"
                )["items"]
                fake.uids = {
                    r["metadata"]["name"].removesuffix("-slo"): r["metadata"]["uid"] for r in rules
                }
                time.sleep(1)
            while not _all_live(custom, args.slos):
                if time.monotonic() > deadline:
                    raise SystemExit("not every SLO got its live status within 300 s")
                time.sleep(1)
            print(
                f"{args.slos} SLOs, live status every {args.period:g} s, {args.periods} "
                "periods per phase (the bound: one write per SLO per period)",
                flush=True,
            )
            _phase("steady", cluster, fake, operator.pid, args.period, args.periods, move=False)
            _phase("moving", cluster, fake, operator.pid, args.period, args.periods, move=True)
        finally:
            operator.stop()


if __name__ == "__main__":
    main()
