"""From an SLO to a page: Pulse's rule, selected by a Prometheus configured as
kube-prometheus-stack configures it, loaded from the files the real Prometheus Operator
generated into a real Prometheus, firing into the real Alertmanager, which notifies a
webhook receiver; then resolved.

Prometheus and Alertmanager run on this host (KWOK nodes run no containers), fed exactly
the configuration and rule files Prometheus Operator wrote for them. The service the SLO
measures is a counter endpoint the test serves and switches between healthy and failing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import (
    alertmanager_config,
    loaded_rule_files,
    loaded_rules,
    prometheus_files,
    start_host_alertmanager,
    start_host_prometheus,
)
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator")

OBJECTIVE = 99.0
PAGE_BURN_RATE = 5.76
"""The first page tier of a 1d window (Pulse's table, scaled from 30d's 14.4 over 1h)."""
REQUESTS_PER_SECOND = 10.0


@dataclass
class Service:
    """The measured service: request counters by status code, grown at a steady rate,
    all good or all failing."""

    failing: bool = False
    good: float = 0.0
    bad: float = 0.0
    rate: float = REQUESTS_PER_SECOND
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


@dataclass
class Receiver:
    """Alertmanager's webhook notifications, as they arrive."""

    notifications: list[dict[str, Any]] = field(default_factory=list)

    def alerts(self, status: str) -> list[dict[str, Any]]:
        return [a for n in self.notifications for a in n["alerts"] if a["status"] == status]


def _serve(handle: Any) -> Iterator[int]:
    """An HTTP server on a free loopback port, answering with `handle(request)`."""

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

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def service() -> Iterator[tuple[Service, int]]:
    measured = Service()
    for port in _serve(lambda _: measured.exposition()):
        yield measured, port


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    received = Receiver()

    def take(request: BaseHTTPRequestHandler) -> bytes:
        length = int(request.headers.get("Content-Length", 0))
        received.notifications.append(json.loads(request.rfile.read(length)))
        return b"ok"

    for port in _serve(take):
        yield received, port


@pytest.fixture
def namespaces(api_client: kubernetes.client.ApiClient) -> Iterator[tuple[str, str]]:
    core = kubernetes.client.CoreV1Api(api_client)
    suffix = str(free_port())
    made = (f"monitoring-{suffix}", f"shop-{suffix}")
    for name in made:
        core.create_namespace({"metadata": {"name": name}})
    try:
        yield made
    finally:
        for name in made:
            core.delete_namespace(name)


def _monitoring_stack(
    api_client: kubernetes.client.ApiClient,
    namespace: str,
    service_port: int,
    alertmanager_port: int,
    receiver_port: int,
) -> None:
    """kube-prometheus-stack's Prometheus selectors and an Alertmanager, as objects for
    Prometheus Operator; the host addresses they need come in as additional configs."""
    core = kubernetes.client.CoreV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "host-addresses"},
        "stringData": {
            "scrape.yaml": json.dumps([{"job_name": "pay", "static_configs": [
                {"targets": [f"127.0.0.1:{service_port}"]}]}]),
            "alertmanagers.yaml": json.dumps([{"static_configs": [
                {"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]),
        },
    })  # fmt: skip
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "alertmanager-main"},
        "stringData": {"alertmanager.yaml": json.dumps({
            "route": {"receiver": "webhook", "group_by": ["alertname", "slo"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [
                {"url": f"http://127.0.0.1:{receiver_port}/", "send_resolved": True}]}],
        })},
    })  # fmt: skip
    release = {"matchLabels": {"release": "kube-prometheus-stack"}}
    for plural, kind, name, spec in [
        ("alertmanagers", "Alertmanager", "main", {"replicas": 1}),
        ("prometheuses", "Prometheus", "kps", {
            "scrapeInterval": "1s", "evaluationInterval": "1s",
            "ruleSelector": release, "ruleNamespaceSelector": {},
            "serviceMonitorSelector": release, "serviceMonitorNamespaceSelector": {},
            "additionalScrapeConfigs": {"name": "host-addresses", "key": "scrape.yaml"},
            "additionalAlertManagerConfigs": {"name": "host-addresses",
                                              "key": "alertmanagers.yaml"},
        }),
    ]:  # fmt: skip
        custom.create_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, plural,
            {"apiVersion": "monitoring.coreos.com/v1", "kind": kind,
             "metadata": {"name": name}, "spec": spec},
        )  # fmt: skip


def _slo(api_client: kubernetes.client.ApiClient, namespace: str) -> str:
    kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "pulse.dev", "v1alpha1", namespace, "slos",
        {"apiVersion": "pulse.dev/v1alpha1", "kind": "SLO", "metadata": {"name": "pay"},
         "spec": {
             "service": "pay", "objective": OBJECTIVE, "window": "1d",
             "ruleLabels": {"release": "kube-prometheus-stack"},
             "sli": {"ratio": {
                 "errorQuery": 'sum(rate(pay_requests_total{job="pay",code="500"}[{{.window}}]))',
                 "totalQuery": 'sum(rate(pay_requests_total{job="pay"}[{{.window}}]))',
             }},
         }},
    )  # fmt: skip
    return "pay-slo"


def _started(process: ManagedProcess, port: int, path: str) -> None:
    def up() -> bool:
        process.ensure_running()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return True
        except OSError:
            return False

    eventually(up, timeout=60, what=f"{process.name} ready")


def test_an_slo_burning_its_budget_pages_through_alertmanager_and_resolves(
    cluster: LocalCluster,
    api_client: kubernetes.client.ApiClient,
    prometheus_operator: ManagedProcess,
    namespaces: tuple[str, str],
    service: tuple[Service, int],
    receiver: tuple[Receiver, int],
    tmp_path: Path,
) -> None:
    monitoring, shop = namespaces
    measured, service_port = service
    received, receiver_port = receiver
    alertmanager_port, prometheus_port = free_port(), free_port()
    _monitoring_stack(api_client, monitoring, service_port, alertmanager_port, receiver_port)
    rule_name = _slo(api_client, shop)
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def rule_uid() -> str | None:
        try:
            rule = custom.get_namespaced_custom_object(
                "monitoring.coreos.com", "v1", shop, "prometheusrules", rule_name
            )
        except kubernetes.client.exceptions.ApiException:
            return None
        return str(rule["metadata"]["uid"])

    uid = eventually(rule_uid, what="Pulse applied the SLO's PrometheusRule")
    eventually(
        lambda: loaded_rules(loaded_rule_files(cluster, monitoring, "kps"), {"pay": uid}),
        timeout=60,
        what="Prometheus Operator put the SLO's rule into monitoring/kps's rule files",
    )

    def generated_secret(name: str) -> bool:
        try:
            kubernetes.client.CoreV1Api(api_client).read_namespaced_secret(name, monitoring)
        except kubernetes.client.exceptions.ApiException:
            return False
        return True

    eventually(lambda: generated_secret("prometheus-kps"), what="the generated configuration")
    eventually(lambda: generated_secret("alertmanager-main-generated"), what="its Alertmanager's")
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "alertmanager").mkdir()
    config, rule_files = prometheus_files(cluster, monitoring, "kps", tmp_path / "prometheus")
    assert [p.name for p in rule_files] == [f"{shop}-{rule_name}-{uid}.yaml"]
    am_config = alertmanager_config(cluster, monitoring, "main", tmp_path / "alertmanager")
    alertmanager = start_host_alertmanager(
        am_config, alertmanager_port, tmp_path / "alertmanager" / "data"
    )
    prometheus = start_host_prometheus(config, prometheus_port, tmp_path / "prometheus" / "data")
    try:
        _started(alertmanager, alertmanager_port, "/-/ready")
        _started(prometheus, prometheus_port, "/-/ready")
        scraping_since = time.monotonic()

        # loaded, healthy, and evaluating
        def groups_healthy() -> list[dict[str, Any]]:
            groups = _api(prometheus_port, "/api/v1/rules")["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            evaluated = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
            return groups if evaluated and all(r["health"] == "ok" for r in rules) else []

        groups = eventually(groups_healthy, timeout=60, what="the SLO's rules loaded and ok")
        assert [g["file"] for g in groups] == [str(rule_files[0])]
        time.sleep(20)  # healthy traffic in the short window before the fault

        # the fault: every request fails
        measured.switch(failing=True, rate=REQUESTS_PER_SECOND)
        fault = time.monotonic()
        page = eventually(
            lambda: [a for a in received.alerts("firing")
                     if a["labels"].get("alertname") == "SLOErrorBudgetBurn"
                     and a["labels"].get("severity") == "critical"],
            timeout=180, what="the page (severity critical)",
        )[0]  # fmt: skip
        paged = time.monotonic() - fault
        # over the short window (5m, longer than all the history here) the error ratio is
        # failing / (healthy + failing) time at one request rate: it crosses the page
        # threshold after this many seconds of failure
        threshold = PAGE_BURN_RATE * (100 - OBJECTIVE) / 100
        healthy = min(fault - scraping_since, 300.0)
        predicted = threshold * healthy / (1 - threshold)
        print(
            f"fault to page: {paged:.1f} s ({paged / 60:.2f} min); the burn-rate arithmetic "
            f"predicts {predicted:.1f} s of failure plus scrape, evaluation and group_wait"
        )
        assert page["labels"]["slo"] == "pay"
        assert page["labels"]["namespace"] == shop
        assert page["labels"]["service"] == "pay"
        assert page["annotations"]["runbook_url"].startswith("https://")
        assert page["annotations"]["runbook_url"].endswith("/slo-error-budget-burn.md")
        assert "pay: error budget burning" in page["annotations"]["summary"]

        assert not received.alerts("resolved"), "resolved while still failing"
        # healed, with a burst of good requests that dilutes the short window at once
        measured.switch(failing=False, rate=100 * REQUESTS_PER_SECOND)
        healed = time.monotonic()
        eventually(
            lambda: [a for a in received.alerts("resolved")
                     if a["fingerprint"] == page["fingerprint"]],
            timeout=180, what="the page's resolved notification",
        )  # fmt: skip
        print(f"healed to resolved: {time.monotonic() - healed:.1f} s")
    finally:
        prometheus.stop()
        alertmanager.stop()
