"""The chain from a rule to a page, as tests build it: a Prometheus and an Alertmanager
configured the way kube-prometheus-stack configures them, handed to the real Prometheus
Operator, then run on this host from exactly the files it generated, notifying a webhook
receiver the test reads."""

from __future__ import annotations

import functools
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import (
    alertmanager_config,
    prometheus_files,
    start_host_alertmanager,
    start_host_prometheus,
)
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

RELEASE = {"release": "kube-prometheus-stack"}
"""The label kube-prometheus-stack's Prometheus selects rules and monitors by."""


@contextmanager
def serve(
    handle: Callable[[BaseHTTPRequestHandler], bytes], host: str = "127.0.0.1"
) -> Iterator[int]:
    """An HTTP server on a free port, answering GET and POST with `handle(request)`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            body = handle(self)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer((host, free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Receiver:
    """Alertmanager's webhook notifications, as they arrive."""

    notifications: list[dict[str, Any]] = field(default_factory=list)

    def take(self, request: BaseHTTPRequestHandler) -> bytes:
        length = int(request.headers.get("Content-Length", 0))
        self.notifications.append(json.loads(request.rfile.read(length)))
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


def api(port: int, path: str) -> Any:
    """A GET of a loopback HTTP API, as JSON."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return json.loads(answer.read())


@dataclass(frozen=True)
class Ports:
    """Where the host's Alertmanager, Prometheus and webhook receiver listen."""

    alertmanager: int
    prometheus: int
    receiver: int


def create_monitoring_stack(
    api_client: kubernetes.client.ApiClient,
    namespace: str,
    ports: Ports,
    scrape_configs: list[dict[str, Any]] | None = None,
) -> None:
    """A Prometheus `kps` and an Alertmanager `main` for Prometheus Operator, selecting as
    kube-prometheus-stack does; what only the host can say (the Alertmanager's address,
    static scrape targets) comes in as additional configs, as a user would give them."""
    core = kubernetes.client.CoreV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    alertmanagers = [{"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}]
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "host-addresses"},
        "stringData": {"scrape.yaml": json.dumps(scrape_configs or []),
                       "alertmanagers.yaml": json.dumps(alertmanagers)},
    })  # fmt: skip
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "alertmanager-main"},
        "stringData": {"alertmanager.yaml": json.dumps({
            "route": {"receiver": "webhook", "group_by": ["alertname", "namespace"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [
                {"url": f"http://127.0.0.1:{ports.receiver}/", "send_resolved": True}]}],
        })},
    })  # fmt: skip
    release = {"matchLabels": RELEASE}
    prometheus_spec = {
        "scrapeInterval": "1s", "evaluationInterval": "1s",
        "ruleSelector": release, "ruleNamespaceSelector": {},
        "serviceMonitorSelector": release, "serviceMonitorNamespaceSelector": {},
        "podMonitorSelector": release, "podMonitorNamespaceSelector": {},
        "additionalScrapeConfigs": {"name": "host-addresses", "key": "scrape.yaml"},
        "additionalAlertManagerConfigs": {"name": "host-addresses", "key": "alertmanagers.yaml"},
    }  # fmt: skip
    for plural, kind, name, spec in [
        ("alertmanagers", "Alertmanager", "main", {"replicas": 1}),
        ("prometheuses", "Prometheus", "kps", prometheus_spec),
    ]:
        custom.create_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, plural,
            {"apiVersion": "monitoring.coreos.com/v1", "kind": kind,
             "metadata": {"name": name}, "spec": spec},
        )  # fmt: skip


def _has_secret(api_client: kubernetes.client.ApiClient, namespace: str, name: str) -> bool:
    try:
        kubernetes.client.CoreV1Api(api_client).read_namespaced_secret(name, namespace)
    except kubernetes.client.exceptions.ApiException:
        return False
    return True


def _wait_serving(process: ManagedProcess, port: int) -> None:
    def ready() -> bool:
        process.ensure_running()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                return True
        except OSError:
            return False

    eventually(ready, timeout=60, what=f"{process.name} ready")


@dataclass(frozen=True)
class HostStack:
    """The running Prometheus and Alertmanager, and the rule files Prometheus loaded."""

    ports: Ports
    rule_files: list[Path]
    started: float
    """time.monotonic() when Prometheus began scraping."""


@contextmanager
def run_on_host(
    cluster: LocalCluster,
    api_client: kubernetes.client.ApiClient,
    namespace: str,
    ports: Ports,
    work: Path,
) -> Iterator[HostStack]:
    """Prometheus and Alertmanager on this host, from the files Prometheus Operator
    generated for `kps` and `main` (wait for its rule files to hold what is needed
    first: they are read once); both stopped on exit."""
    for secret in ("prometheus-kps", "alertmanager-main-generated"):
        found = functools.partial(_has_secret, api_client, namespace, secret)
        eventually(found, 60, f"Secret {namespace}/{secret}")
    for part in ("prometheus", "alertmanager"):
        (work / part).mkdir(parents=True, exist_ok=True)
    config, rule_files = prometheus_files(cluster, namespace, "kps", work / "prometheus")
    am_config = alertmanager_config(cluster, namespace, "main", work / "alertmanager")
    alertmanager = start_host_alertmanager(
        am_config, ports.alertmanager, work / "alertmanager" / "data"
    )
    prometheus = start_host_prometheus(config, ports.prometheus, work / "prometheus" / "data")
    try:
        _wait_serving(alertmanager, ports.alertmanager)
        _wait_serving(prometheus, ports.prometheus)
        yield HostStack(ports, rule_files, time.monotonic())
    finally:
        prometheus.stop()
        alertmanager.stop()


def rules_healthy(ports: Ports) -> list[dict[str, Any]]:
    """The rule groups Prometheus loaded, once every rule was evaluated with health ok;
    empty before."""
    groups: list[dict[str, Any]] = api(ports.prometheus, "/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    evaluated = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
    return groups if evaluated and all(r["health"] == "ok" for r in rules) else []
