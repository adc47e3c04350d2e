"""Selected, against the real API server and Prometheus Operator's real CRDs: whether a
Prometheus configured as kube-prometheus-stack configures it selects Pulse's rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from pulse_devcluster.cluster import LocalCluster
from tests.integration.test_slo_operator import RATIO_SPEC, Slos
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator", "sole_readers")

MONITORING = ("monitoring.coreos.com", "v1")


def release(namespace: str) -> str:
    """kube-prometheus-stack's release label value, unique to the test: Prometheus objects
    of other tests (their namespaces still being deleted) must not select its rules."""
    return f"kps-{namespace}"


@pytest.fixture
def slos(api_client: kubernetes.client.ApiClient, namespace: str) -> Slos:
    return Slos(api_client, namespace)


@pytest.fixture
def prometheus(api_client: kubernetes.client.ApiClient, namespace: str) -> Iterator[str]:
    """kube-prometheus-stack's default Prometheus (its selectors, not its pods), removed
    afterwards so that other tests see no Prometheus."""
    custom = kubernetes.client.CustomObjectsApi(api_client)
    selector = {"matchLabels": {"release": release(namespace)}}
    custom.create_namespaced_custom_object(
        *MONITORING, namespace, "prometheuses",
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
         "metadata": {"name": "kube-prometheus-stack-prometheus"},
         "spec": {"ruleSelector": selector, "ruleNamespaceSelector": {},
                  "serviceMonitorSelector": selector, "serviceMonitorNamespaceSelector": {}}},
    )  # fmt: skip
    try:
        yield "kube-prometheus-stack-prometheus"
    finally:
        custom.delete_namespaced_custom_object(
            *MONITORING, namespace, "prometheuses", "kube-prometheus-stack-prometheus"
        )


def _selected(slos: Slos, name: str, status: str) -> bool:
    return slos.condition(name, "Selected").get("status") == status


def test_kube_prometheus_stack_selects_the_labelled_slo_and_says_why_not_the_other(
    slos: Slos, prometheus: str, namespace: str
) -> None:
    slos.create("labelled", {**RATIO_SPEC, "selectorLabels": {"release": release(namespace)}})
    slos.create("unlabelled", RATIO_SPEC)
    eventually(lambda: _selected(slos, "labelled", "True"), what="labelled: Selected=True")
    eventually(lambda: _selected(slos, "unlabelled", "False"), what="unlabelled: Selected=False")
    assert slos.condition("labelled", "Selected")["message"] == (
        f"PrometheusRule/labelled-slo by Prometheus {namespace}/{prometheus}"
    )
    refused = slos.condition("unlabelled", "Selected")
    assert refused["reason"] == "NotSelected"
    assert refused["message"].startswith(
        f"PrometheusRule/unlabelled-slo is not loaded: Prometheus {namespace}/{prometheus} "
        f"selects rules with release={release(namespace)}; PrometheusRule/unlabelled-slo has "
        "app.kubernetes.io/"
    ), refused
    assert slos.condition("unlabelled", "Ready")["status"] == "True"  # applied, but unused


def test_a_changed_selector_is_judged_again_and_status_updates_cost_no_write(
    slos: Slos,
    prometheus: str,
    namespace: str,
    api_client: kubernetes.client.ApiClient,
    cluster: LocalCluster,
) -> None:
    custom = kubernetes.client.CustomObjectsApi(api_client)
    slos.create("followed", {**RATIO_SPEC, "selectorLabels": {"release": release(namespace)}})
    eventually(lambda: _selected(slos, "followed", "True"), what="Selected=True")
    time.sleep(3)  # the last status write and the audit batch land

    def pulse_writes() -> list[dict[str, Any]]:
        return [
            w
            for w in cluster.writes_by(("pulse-operator", "kopf"))
            if w.get("objectRef", {}).get("namespace") == namespace
        ]

    before = pulse_writes()
    for replicas in (1, 2, 3):  # as Prometheus Operator does, often
        custom.patch_namespaced_custom_object_status(
            *MONITORING, namespace, "prometheuses", prometheus,
            {"status": {"availableReplicas": replicas, "replicas": replicas, "paused": False,
                        "unavailableReplicas": 0, "updatedReplicas": replicas}},
        )  # fmt: skip
    time.sleep(5)
    assert pulse_writes() == before, "Pulse wrote after Prometheus status updates"

    custom.patch_namespaced_custom_object(
        *MONITORING, namespace, "prometheuses", prometheus,
        {"spec": {"ruleSelector": {"matchLabels": {"release": "renamed"}}}},
    )  # fmt: skip
    started = time.monotonic()
    eventually(lambda: _selected(slos, "followed", "False"), timeout=15, what="Selected=False")
    print(f"re-judged {time.monotonic() - started:.1f} s after the selector changed")
    assert "selects rules with release=renamed" in slos.condition("followed", "Selected")["message"]
