"""The chain from a rule to a page, on this machine: a Prometheus and an Alertmanager
handed to the real Prometheus Operator, then run on this host from exactly the files it
generated (monitoring.py), notifying a webhook receiver. `make demo` and the tests use it."""

from __future__ import annotations

import functools
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import (
    alertmanager_config,
    api_get,
    prometheus_files,
    start_host_alertmanager,
    start_host_prometheus,
)
from pulse_devcluster.processes import ManagedProcess

RELEASE = {"release": "kube-prometheus-stack"}
"""The label kube-prometheus-stack's Prometheus selects rules and monitors by."""


@dataclass
class Receiver:
    """Alertmanager's webhook notifications, as they arrive; `on_alert` sees each alert."""

    notifications: list[dict[str, Any]] = field(default_factory=list)
    on_alert: Callable[[dict[str, Any]], None] | None = None

    def take(self, request: BaseHTTPRequestHandler) -> bytes:
        length = int(request.headers.get("Content-Length", 0))
        notification = json.loads(request.rfile.read(length))
        self.notifications.append(notification)
        for alert in notification["alerts"]:
            if self.on_alert is not None:
                self.on_alert(alert)
        return b"ok"

    def alerts(self, status: str, **labels: str) -> list[dict[str, Any]]:
        """Every alert notified with this status and these labels, in order."""
        return [
            alert
            for notification in self.notifications
            for alert in notification["alerts"]
            if alert["status"] == status
            and all(alert["labels"].get(k) == v for k, v in labels.items())
        ]

    def resolved(self, alert: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The resolved notifications of this firing alert (the same fingerprint)."""
        return [a for a in self.alerts("resolved") if a["fingerprint"] == alert["fingerprint"]]


@dataclass
class MeasuredService:
    """A service an SLO measures: `pay_requests_total` by status code, grown at a steady
    rate (requests per second), all good or all failing; serve its `exposition`."""

    failing: bool = False
    good: float = 0.0
    bad: float = 0.0
    rate: float = 10.0
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exposition(self) -> bytes:
        with self.lock:
            now = time.monotonic()
            grown = (now - self.last) * self.rate
            self.last = now
            if self.failing:
                self.bad += grown
            else:
                self.good += grown
            return (
                "# TYPE pay_requests_total counter\n"
                f'pay_requests_total{{code="200"}} {self.good:.3f}\n'
                f'pay_requests_total{{code="500"}} {self.bad:.3f}\n'
            ).encode()

    def switch(self, *, failing: bool, rate: float) -> None:
        self.exposition()  # book what grew before the switch
        with self.lock:
            self.failing, self.rate = failing, rate


def api(base_url: str, path: str) -> Any:
    """A GET of an HTTP API (Prometheus's, Alertmanager's), as JSON."""
    with urllib.request.urlopen(base_url + path, timeout=10) as answer:
        return json.loads(answer.read())


@dataclass(frozen=True)
class Ports:
    """Where the host's Alertmanager, Prometheus and webhook receiver listen."""

    alertmanager: int
    prometheus: int
    receiver: int

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus}"


def monitoring_documents(
    namespace: str,
    receiver_url: str,
    alertmanagers: list[dict[str, Any]],
    scrape_configs: list[dict[str, Any]] | None = None,
    selects: Mapping[str, str] = RELEASE,
) -> list[dict[str, Any]]:
    """A Prometheus `kps` and an Alertmanager `main` for Prometheus Operator, selecting
    rules and monitors labelled `selects` in every namespace (kube-prometheus-stack's
    defaults; `{}` selects everything), the Alertmanager notifying the webhook at
    `receiver_url`; what Prometheus Operator cannot discover (`alertmanagers` on the host,
    static scrape targets) comes in as additional configs, as a user gives them."""
    route = {"receiver": "webhook", "group_by": ["alertname", "namespace"],
             "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}  # fmt: skip
    webhook = {"url": receiver_url, "send_resolved": True}
    selector = {"matchLabels": dict(selects)}
    prometheus_spec = {
        "scrapeInterval": "1s", "evaluationInterval": "1s",
        "ruleSelector": selector, "ruleNamespaceSelector": {},
        "serviceMonitorSelector": selector, "serviceMonitorNamespaceSelector": {},
        "podMonitorSelector": selector, "podMonitorNamespaceSelector": {},
        "additionalScrapeConfigs": {"name": "host-addresses", "key": "scrape.yaml"},
    }  # fmt: skip
    if alertmanagers:
        prometheus_spec["additionalAlertManagerConfigs"] = {
            "name": "host-addresses", "key": "alertmanagers.yaml"}  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "host-addresses", "namespace": namespace},
         "stringData": {"scrape.yaml": json.dumps(scrape_configs or []),
                        "alertmanagers.yaml": json.dumps(alertmanagers)}},
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "alertmanager-main", "namespace": namespace},
         "stringData": {"alertmanager.yaml": json.dumps(
             {"route": route, "receivers": [{"name": "webhook", "webhook_configs": [webhook]}]})}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
         "metadata": {"name": "main", "namespace": namespace}, "spec": {"replicas": 1}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
         "metadata": {"name": "kps", "namespace": namespace}, "spec": prometheus_spec},
    ]  # fmt: skip


def apply_documents(cluster: LocalCluster, documents: list[dict[str, Any]]) -> None:
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})
    cluster.kubectl("apply", "--server-side", "--field-manager=pulse-devcluster", "-f", "-",
                    input=listed)  # fmt: skip


def create_monitoring_stack(
    cluster: LocalCluster,
    namespace: str,
    ports: Ports,
    scrape_configs: list[dict[str, Any]] | None = None,
    selects: Mapping[str, str] = RELEASE,
) -> None:
    """monitoring_documents for a Prometheus and an Alertmanager on this host
    (run_on_host), at `ports` on loopback."""
    alertmanagers = [{"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}]
    documents = monitoring_documents(
        namespace, f"http://127.0.0.1:{ports.receiver}/", alertmanagers, scrape_configs, selects
    )
    apply_documents(cluster, documents)


def _wait(check: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _has_secret(cluster: LocalCluster, namespace: str, name: str) -> bool:
    secrets = api_get(cluster, f"/api/v1/namespaces/{namespace}/secrets")["items"]
    return any(s["metadata"]["name"] == name for s in secrets)


def _serving(process: ManagedProcess, port: int) -> bool:
    process.ensure_running()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class HostStack:
    """The running Prometheus and Alertmanager, and the rule files Prometheus loaded."""

    ports: Ports
    rule_files: list[Path]
    started: float
    """time.monotonic() when Prometheus began scraping."""


@contextmanager
def run_on_host(
    cluster: LocalCluster, namespace: str, ports: Ports, work: Path
) -> Iterator[HostStack]:
    """Prometheus and Alertmanager on this host, from the files Prometheus Operator
    generated for `kps` and `main` (wait for its rule files to hold what is needed first:
    they are read once); both stopped on exit."""
    for secret in ("prometheus-kps", "alertmanager-main-generated"):
        found = functools.partial(_has_secret, cluster, namespace, secret)
        _wait(found, f"Secret {namespace}/{secret}")
    for part in ("prometheus", "alertmanager"):
        (work / part).mkdir(parents=True, exist_ok=True)
    config, rule_files = prometheus_files(cluster, namespace, "kps", work / "prometheus")
    am_config = alertmanager_config(cluster, namespace, "main", work / "alertmanager")
    alertmanager = start_host_alertmanager(
        am_config, ports.alertmanager, work / "alertmanager" / "data"
    )
    prometheus = start_host_prometheus(config, ports.prometheus, work / "prometheus" / "data")
    try:
        _wait(lambda: _serving(alertmanager, ports.alertmanager), "Alertmanager ready")
        _wait(lambda: _serving(prometheus, ports.prometheus), "Prometheus ready")
        yield HostStack(ports, rule_files, time.monotonic())
    finally:
        prometheus.stop()
        alertmanager.stop()


def rules_healthy(prometheus_url: str) -> list[dict[str, Any]]:
    """The rule groups Prometheus loaded, once every rule was evaluated with health ok;
    empty before."""
    groups: list[dict[str, Any]] = api(prometheus_url, "/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    evaluated = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
    return groups if evaluated and all(r["health"] == "ok" for r in rules) else []
