"""`make demo`: the operator on the local control plane, the examples, what they produced."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pulse_devcluster import paths
from pulse_devcluster.alerting import (
    Ports,
    Receiver,
    create_monitoring_stack,
    rules_healthy,
    run_on_host,
)
from pulse_devcluster.apiproxy import TcpRelay
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.loopback import serve
from pulse_devcluster.monitoring import (
    loaded_rule_files,
    loaded_rules,
    start_prometheus_operator,
)
from pulse_devcluster.node import GATEWAY_IP, RealNode
from pulse_devcluster.operator import start_operator
from pulse_devcluster.podstack import PROMETHEUS_PORT, run_on_node
from pulse_devcluster.processes import ManagedProcess, free_port

EXAMPLE_DIRS = ("examples/collectors", "examples/slos")
REAL_NODE_EXAMPLES = "examples/real-node"
READY_TIMEOUT = "120s"
MONITORING_NAMESPACE = "pulse-monitoring"
LIVE_STATUS_SECONDS = 10
"""How often the demo's operator asks the chain's Prometheus for the live status."""
RECEIVER_PORT = 9090
PAGE_TIMEOUT = 180.0
RESOLVE_TIMEOUT = 360.0
DEMO_RATE = 5.0
"""The demo collector's own requests per second (its default)."""
HEALING_RATE = 50.0
"""Good requests per second after the fault: they dilute the SLO's 5m window, so the page
resolves in about a minute rather than when the failures leave that window."""
"""Where examples/real-node's sink writes: a Prometheus on the pod network's gateway."""
# Asked from inside the pod network: the demo collector's container fetches its sidecar's
# /status over the pod's localhost.
STATUS_FROM_THE_POD = (
    "import urllib.request; "
    "print(urllib.request.urlopen('http://127.0.0.1:8000/status', timeout=5).read().decode())"
)


def _section(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _windows(labels: dict[str, str]) -> str:
    """An SLO alert's pair of windows, as " (long 1h, short 5m)"; empty for other alerts."""
    if "long_window" not in labels:
        return ""
    return f" (long {labels['long_window']}, short {labels['short_window']})"


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
                lines.append(
                    f"  {r['alert']:<24} {labels.get('severity', ''):<8}{_windows(labels)}"
                )
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


def _receiver(work_dir: Path) -> ManagedProcess:
    """A real Prometheus accepting remote write where the real node's pods can reach it."""
    (work_dir / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    return ManagedProcess.start(
        "demo-receiver",
        [
            paths.binary("prometheus"),
            f"--config.file={work_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={work_dir / 'data'}",
            f"--web.listen-address={GATEWAY_IP}:{RECEIVER_PORT}",
            "--web.enable-remote-write-receiver",
        ],
        work_dir,
    )


def _show_real_pods(cluster: LocalCluster) -> None:
    _section("Real pods (examples/real-node on the real node)")
    print(cluster.kubectl("get", "pods", "-n", "pulse-demo", "-o", "wide").stdout)
    pods = json.loads(cluster.kubectl("get", "pods", "-n", "pulse-demo", "-o", "json").stdout)[
        "items"
    ]
    if not pods:
        return
    name = pods[0]["metadata"]["name"]
    _section(f"The sidecar's /status, asked from inside pod {name}")
    answer = cluster.kubectl(
        "exec", "-n", "pulse-demo", name, "-c", "collector", "--",
        "python3", "-c", STATUS_FROM_THE_POD, check=False,
    )  # fmt: skip
    print(answer.stdout if answer.returncode == 0 else f"(exec failed: {answer.stderr})")
    query = 'count by (__name__) ({__name__=~"demo_.+"})'
    url = f"http://{GATEWAY_IP}:{RECEIVER_PORT}/api/v1/query?query=" + urllib.parse.quote(query)
    for _ in range(30):  # the first push is one sink interval (5 s) after the first scrape
        with urllib.request.urlopen(url, timeout=5) as response:
            result = json.loads(response.read())["data"]["result"]
        if result:
            break
        time.sleep(1)
    _section("Series the sidecar remote-wrote to the demo's Prometheus")
    for series in result:
        print(f"  {series['metric']['__name__']}: {series['value'][1]} series")


class _AlertPrinter:
    """Prints each alert once when it fires and once when it resolves: every notification
    repeats all the alerts of its group."""

    def __init__(self) -> None:
        self._printed: set[tuple[str, str, str]] = set()

    def __call__(self, alert: dict[str, Any]) -> None:
        key = (alert.get("fingerprint", ""), alert.get("status", ""), alert.get("startsAt", ""))
        if key in self._printed:
            return
        self._printed.add(key)
        labels, annotations = alert.get("labels") or {}, alert.get("annotations") or {}
        where = f"{labels.get('namespace', '')}/{labels.get('collector') or labels.get('slo', '')}"
        print(
            f"[webhook] {alert.get('status')}: {labels.get('alertname')} {where} "
            f"severity={labels.get('severity')}{_windows(labels)}: "
            f"{annotations.get('summary', '')}",
            flush=True,
        )


def _pulse_rule_uids(cluster: LocalCluster) -> dict[str, str]:
    listed = cluster.kubectl(
        "get", "prometheusrules", "-A", "-l", "app.kubernetes.io/managed-by=pulse-operator",
        "-o", "json",
    )  # fmt: skip
    return {
        f"{r['metadata']['namespace']}/{r['metadata']['name']}": r["metadata"]["uid"]
        for r in json.loads(listed.stdout)["items"]
    }


def _alert_chain(
    cluster: LocalCluster,
    exits: contextlib.ExitStack,
    work: Path,
    prometheus_port: int,
    real_node: RealNode | None,
) -> Receiver:
    """The real Prometheus Operator, a Prometheus selecting every rule and monitor, and an
    Alertmanager: as pods on the real node when there is one (Prometheus reached from
    loopback at `prometheus_port` through a relay, as `kubectl port-forward` would), else
    run on the host from the files the operator generated. Alerts reach a webhook receiver
    this process runs, and are printed as they arrive."""
    _section("From rule to page: Prometheus Operator, Prometheus and Alertmanager")
    operator = start_prometheus_operator(cluster)
    exits.callback(operator.stop)
    cluster.kubectl("create", "namespace", MONITORING_NAMESPACE)
    receiver = Receiver(on_alert=_AlertPrinter())
    uids = _pulse_rule_uids(cluster)
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    if real_node is None:
        ports = Ports(free_port(), prometheus_port, exits.enter_context(serve(receiver.take)))
        create_monitoring_stack(cluster, MONITORING_NAMESPACE, ports, selects={})
        for _ in range(120):  # the host's Prometheus reads its rule files once
            files = loaded_rule_files(cluster, MONITORING_NAMESPACE, "kps")
            if loaded_rules(files, uids) == set(uids):
                break
            time.sleep(0.5)
        exits.enter_context(run_on_host(cluster, MONITORING_NAMESPACE, ports, work))
        alertmanager_url = f"http://127.0.0.1:{ports.alertmanager}"
        where = "on this host"
    else:
        receiver_port = exits.enter_context(serve(receiver.take, host=GATEWAY_IP))
        pods = exits.enter_context(
            run_on_node(cluster, MONITORING_NAMESPACE, receiver_port, selects={})
        )
        pod_ip = urllib.parse.urlsplit(pods.prometheus_url).hostname or ""
        relay = TcpRelay(("127.0.0.1", prometheus_port), (pod_ip, PROMETHEUS_PORT))
        exits.callback(relay.stop)
        alertmanager_url = pods.alertmanager_url
        where = f"as pods on {real_node.name} (Prometheus at {pods.prometheus_url})"
    groups: list[dict[str, Any]] = []
    for _ in range(240):  # pods see a new rule file when the kubelet refreshes the volume
        groups = rules_healthy(prometheus_url)
        if groups and len(_pulse_files(groups, uids)) == len(uids):
            break
        time.sleep(0.5)
    rules = [r for g in groups for r in g["rules"]]
    print(
        f"Prometheus ({prometheus_url}, {where}) loaded {len(_pulse_files(groups, uids))} of "
        f"{len(uids)} Pulse rule files: {len(groups)} groups, {len(rules)} rules, "
        f"{sum(r['health'] == 'ok' for r in rules)} healthy",
        flush=True,
    )
    print("Whether a Prometheus selects each resource's rules, now that one exists:")
    print(cluster.kubectl("get", "pulse", "-A").stdout, flush=True)
    _show_live_status(cluster)
    print(
        f"Alertmanager ({alertmanager_url}) notifies the demo's webhook receiver; its "
        "notifications are printed as they arrive. Expect CollectorDown for the collectors on "
        "KWOK nodes (their pods run nothing) once its 5m `for` is over.",
        flush=True,
    )
    return receiver


def _pulse_files(groups: list[dict[str, Any]], uids: dict[str, str]) -> set[str]:
    """The rule files of Pulse's PrometheusRules among the groups Prometheus loaded
    (Prometheus Operator names each `<namespace>-<name>-<uid>.yaml`)."""
    files = {str(g["file"]) for g in groups}
    return {f for f in files if any(f.endswith(f"-{uid}.yaml") for uid in uids.values())}


def _page_on_demand(cluster: LocalCluster, receiver: Receiver) -> None:
    """The demo collector on the real node fails every request until its SLO pages, then
    heals until the page resolves; the notifications are printed as they arrive."""
    _section("An SLO page: the demo collector fails every request (examples/real-node)")
    pods = json.loads(cluster.kubectl("get", "pods", "-n", "pulse-demo", "-o", "json").stdout)
    ips = [p["status"]["podIP"] for p in pods["items"] if p["status"].get("phase") == "Running"]
    if not ips:
        print("No demo collector pod is running: no page brought on.", flush=True)
        return
    knobs = f"http://{ips[0]}:8080/knobs"
    try:
        _fault_and_heal(cluster, receiver, knobs)
    except OSError as error:
        print(f"The demo collector's {knobs} did not answer ({error}).", flush=True)


def _fault_and_heal(cluster: LocalCluster, receiver: Receiver, knobs: str) -> None:
    _post_json(knobs, {"errorRatio": 1})
    print(f"POST {knobs} errorRatio=1; waiting for the page...", flush=True)
    fault = time.monotonic()
    page = _wait_for(
        lambda: receiver.alerts("firing", slo="demo-availability", severity="critical"),
        PAGE_TIMEOUT,
    )
    if not page:
        print(f"No page within {PAGE_TIMEOUT:.0f}s.", flush=True)
        _post_json(knobs, {"errorRatio": 0})
        return
    print(f"Paged {time.monotonic() - fault:.0f}s after the fault.", flush=True)
    sli = "jsonpath={.status.live.sliPercent}"
    for _ in range(6 * LIVE_STATUS_SECONDS):  # until the operator's next live refresh
        said = cluster.kubectl("get", "slo", "demo-availability", "-n", "pulse-demo", "-o", sli)
        if said.stdout and float(said.stdout) < 100:
            break
        time.sleep(0.5)
    print("The SLO's live status, from that Prometheus:")
    print(cluster.kubectl("get", "slo", "-n", "pulse-demo", "-o", "wide").stdout, flush=True)
    _post_json(knobs, {"errorRatio": 0, "rate": HEALING_RATE})
    print(f"Healed (errorRatio=0, {HEALING_RATE:g} requests/s); waiting for the resolve...")
    healed = time.monotonic()
    if _wait_for(lambda: receiver.resolved(page[0]), RESOLVE_TIMEOUT):
        print(f"Resolved {time.monotonic() - healed:.0f}s after healing.", flush=True)
    else:
        print(f"Not resolved within {RESOLVE_TIMEOUT:.0f}s.", flush=True)
    _post_json(knobs, {"rate": DEMO_RATE})


def _post_json(url: str, document: dict[str, float]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _wait_for(check: Callable[[], list[dict[str, Any]]], timeout: float) -> list[dict[str, Any]]:
    """`check()` once it is not empty, or empty after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def _show_live_status(cluster: LocalCluster) -> None:
    """The operator asks that Prometheus every LIVE_STATUS_SECONDS: once each SLO says
    whether its rules are loaded there, show it (the examples' SLIs measure services the
    demo does not run: DataPresent=False names the query that returns nothing)."""
    present = '{.status.conditions[?(@.type=="DataPresent")].status}'
    path = f"{{range .items[*]}}{{.metadata.name}}:{present} {{end}}"
    for _ in range(4 * int(LIVE_STATUS_SECONDS)):
        judged = cluster.kubectl("get", "slos", "-A", "-o", f"jsonpath={path}").stdout.split()
        if judged and all(item.endswith((":True", ":False")) for item in judged):
            break
        time.sleep(0.5)
    print("What that Prometheus says of each SLO (kubectl get slo -A -o wide):")
    print(cluster.kubectl("get", "slo", "-A", "-o", "wide").stdout, flush=True)


@contextlib.contextmanager
def running(cluster: LocalCluster, real_node: RealNode | None = None) -> Iterator[int]:
    """Runs the operator, applies the examples (those of examples/real-node too when a real
    node runs) and shows the result; yields the exit status (0 when every example is Ready)
    while the operator keeps running."""
    prometheus_port = free_port()  # the chain's Prometheus, which the operator asks
    live = {
        "PULSE_PROMETHEUS_URL": f"http://127.0.0.1:{prometheus_port}",
        "PULSE_LIVE_STATUS_SECONDS": str(LIVE_STATUS_SECONDS),
    }
    operator = start_operator(cluster, env=live)
    receiver_dir = tempfile.TemporaryDirectory(prefix="pulse-demo-receiver-")
    receiver = _receiver(Path(receiver_dir.name)) if real_node else None
    exits = contextlib.ExitStack()
    try:
        print(f"Operator running (pid {operator.pid}), logs in {operator.log_path}", flush=True)
        directories = [*EXAMPLE_DIRS, *([REAL_NODE_EXAMPLES] if real_node else [])]
        for directory in directories:
            print(cluster.kubectl("apply", "-f", str(paths.REPO_ROOT / directory)).stdout, end="")
        waited = cluster.kubectl(
            "wait", "--for=condition=Ready", "metricscollectors,slos", "--all", "-A",
            f"--timeout={READY_TIMEOUT}", check=False,
        )  # fmt: skip
        operator.ensure_running()
        _show(cluster)
        if real_node is not None:
            _show_real_pods(cluster)
        work = Path(receiver_dir.name) / "alert-chain"
        alerts = _alert_chain(cluster, exits, work, prometheus_port, real_node)
        if real_node is not None:
            _page_on_demand(cluster, alerts)
        if waited.returncode == 0:
            print("Every example is Ready.", flush=True)
        else:
            print(f"Not every example became Ready:\n{waited.stderr}", flush=True)
        yield 0 if waited.returncode == 0 else 1
    finally:
        exits.close()
        operator.stop()
        if receiver is not None:
            receiver.stop()
        receiver_dir.cleanup()
