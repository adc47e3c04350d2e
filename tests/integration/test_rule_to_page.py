"""From an SLO to a page: Pulse's rule, selected by a Prometheus configured as
kube-prometheus-stack configures it, loaded from the files the real Prometheus Operator
generated into a real Prometheus, firing into the real Alertmanager, which notifies a
webhook receiver; then resolved.

Prometheus and Alertmanager run on this host (KWOK nodes run no containers), fed exactly
the configuration and rule files Prometheus Operator wrote for them. The service the SLO
measures is a counter endpoint the test serves and switches between healthy and failing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
from pulse_devcluster.alerting import (
    MeasuredService,
    Ports,
    Receiver,
    create_monitoring_stack,
    rules_healthy,
    run_on_host,
)
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.loopback import serve
from pulse_devcluster.monitoring import loaded_rule_files, loaded_rules
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator", "sole_readers")

OBJECTIVE = 99.0
PAGE_BURN_RATE = 5.76
"""The first page tier of a 1d window (Pulse's table, scaled from 30d's 14.4 over 1h)."""
REQUESTS_PER_SECOND = 10.0


@pytest.fixture
def service() -> Iterator[tuple[MeasuredService, int]]:
    measured = MeasuredService(rate=REQUESTS_PER_SECOND)
    with serve(lambda _: measured.exposition()) as port:
        yield measured, port


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    received = Receiver()
    with serve(received.take) as port:
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


def _slo(api_client: kubernetes.client.ApiClient, namespace: str) -> str:
    kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "pulse.dev", "v1alpha1", namespace, "slos",
        {"apiVersion": "pulse.dev/v1alpha1", "kind": "SLO", "metadata": {"name": "pay"},
         "spec": {
             "service": "pay", "objective": OBJECTIVE, "window": "1d",
             "selectorLabels": {"release": "kube-prometheus-stack"},
             "sli": {"ratio": {
                 "errorQuery": 'sum(rate(pay_requests_total{job="pay",code="500"}[{{.window}}]))',
                 "totalQuery": 'sum(rate(pay_requests_total{job="pay"}[{{.window}}]))',
             }},
         }},
    )  # fmt: skip
    return "pay-slo"


def _rule_uid(api_client: kubernetes.client.ApiClient, namespace: str, name: str) -> str | None:
    try:
        rule = kubernetes.client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, "prometheusrules", name
        )
    except kubernetes.client.exceptions.ApiException:
        return None
    return str(rule["metadata"]["uid"])


def test_an_slo_burning_its_budget_pages_through_alertmanager_and_resolves(
    cluster: LocalCluster,
    api_client: kubernetes.client.ApiClient,
    prometheus_operator: ManagedProcess,
    namespaces: tuple[str, str],
    service: tuple[MeasuredService, int],
    receiver: tuple[Receiver, int],
    tmp_path: Path,
) -> None:
    monitoring, shop = namespaces
    measured, service_port = service
    received, receiver_port = receiver
    ports = Ports(alertmanager=free_port(), prometheus=free_port(), receiver=receiver_port)
    pay_job = {"job_name": "pay", "static_configs": [{"targets": [f"127.0.0.1:{service_port}"]}]}
    create_monitoring_stack(cluster, monitoring, ports, scrape_configs=[pay_job])
    rule_name = _slo(api_client, shop)
    uid = eventually(lambda: _rule_uid(api_client, shop, rule_name), what="the SLO's rule")
    eventually(
        lambda: loaded_rules(loaded_rule_files(cluster, monitoring, "kps"), {"pay": uid}),
        timeout=60,
        what="Prometheus Operator put the SLO's rule into monitoring/kps's rule files",
    )
    with run_on_host(cluster, monitoring, ports, tmp_path) as stack:
        # kube-prometheus-stack selects in every namespace: other tests' rules that carry
        # its release label may be loaded too
        (ours,) = [p for p in stack.rule_files if p.name == f"{shop}-{rule_name}-{uid}.yaml"]
        groups = eventually(
            lambda: rules_healthy(ports.prometheus_url), 60, "the loaded rules evaluated, ok"
        )
        assert str(ours) in [g["file"] for g in groups]
        time.sleep(20)  # healthy traffic in the short window before the fault

        # the fault: every request fails
        measured.switch(failing=True, rate=REQUESTS_PER_SECOND)
        fault = time.monotonic()
        page = eventually(
            lambda: received.alerts(
                "firing", alertname="SLOErrorBudgetBurn", severity="critical", namespace=shop
            ),
            timeout=180,
            what="the page (severity critical)",
        )[0]
        paged = time.monotonic() - fault
        # over the short window (5m, longer than all the history here) the error ratio is
        # failing / (healthy + failing) time at one request rate: it crosses the page
        # threshold after this many seconds of failure
        threshold = PAGE_BURN_RATE * (100 - OBJECTIVE) / 100
        healthy = min(fault - stack.started, 300.0)
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

        assert not received.alerts("resolved", namespace=shop), "resolved while still failing"
        # healed, with a burst of good requests that dilutes the short window at once
        measured.switch(failing=False, rate=100 * REQUESTS_PER_SECOND)
        healed = time.monotonic()
        eventually(
            lambda: received.resolved(page),
            timeout=180,
            what="the page's resolved notification",
        )
        print(f"healed to resolved: {time.monotonic() - healed:.1f} s")
