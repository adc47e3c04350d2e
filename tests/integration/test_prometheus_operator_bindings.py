"""Prometheus Operator's own record of which Prometheus accepted a ServiceMonitor
(`status.bindings`, written with its StatusForConfigurationResources gate on), read by
Selected as it is really written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import yaml
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import start_prometheus_operator
from pulse_devcluster.processes import ManagedProcess
from tests.integration.test_prometheus_operator_agrees import EXAMPLES, KPS, MONITORING, Scene
from tests.support import eventually

from pulse_operator.selection import refusals

pytestmark = pytest.mark.usefixtures("pulse_operator", "sole_readers")
GATE = "StatusForConfigurationResources"


@pytest.fixture
def scene(api_client: kubernetes.client.ApiClient) -> Iterator[Scene]:
    made = Scene(api_client)
    try:
        yield made
    finally:
        made.delete()


@pytest.fixture
def gated_operator(
    cluster: LocalCluster, api_client: kubernetes.client.ApiClient, scene: Scene
) -> Iterator[ManagedProcess]:
    """Prometheus Operator with the gate on, stopped only once the test's Prometheus
    objects are gone: the gate gives each a finalizer that only a running operator removes."""
    process = start_prometheus_operator(cluster, feature_gates=[GATE])
    custom = kubernetes.client.CustomObjectsApi(api_client)
    try:
        yield process
    finally:
        for name in scene.namespaces:
            custom.delete_collection_namespaced_custom_object(*MONITORING, name, "prometheuses")

        def gone() -> bool:
            return not custom.list_cluster_custom_object(*MONITORING, "prometheuses")["items"]

        eventually(gone, timeout=60, what="the Prometheus objects, finalizers removed")
        process.stop()


def test_prometheus_operators_bindings_are_read_as_it_writes_them(
    scene: Scene, gated_operator: ManagedProcess
) -> None:
    """With its StatusForConfigurationResources gate on, Prometheus Operator records in a
    ServiceMonitor's status which Prometheus accepted it: Selected reads those records,
    so their shape must be the one it really writes (a refusal is then found by name)."""
    monitoring = scene.namespace("monitoring")
    examples = scene.namespace("examples")
    scene.prometheus(
        monitoring, "kps", ruleSelector=KPS, ruleNamespaceSelector={},
        serviceMonitorSelector=KPS, serviceMonitorNamespaceSelector={},
    )  # fmt: skip
    for path in EXAMPLES:
        for document in yaml.safe_load_all(path.read_text()):
            if document["kind"] in ("MetricsCollector", "Secret"):
                scene.create(examples, document)

    def bound() -> dict[str, Any] | None:
        gated_operator.ensure_running()
        listed = scene.custom.list_namespaced_custom_object(
            *MONITORING, examples, "servicemonitors"
        )["items"]
        bound = [m for m in listed if (m.get("status") or {}).get("bindings")]
        return bound[0] if bound else None

    monitor = eventually(bound, timeout=90, what="Prometheus Operator's binding of the monitor")
    assert refusals(monitor) == {}
    (binding,) = monitor["status"]["bindings"]
    accepted = next(c for c in binding["conditions"] if c["type"] == "Accepted")
    assert accepted["status"] == "True", binding
    accepted["status"], accepted["reason"] = "False", "InvalidConfiguration"
    assert set(refusals(monitor)) == {f"Prometheus {monitoring}/kps"}

    def pulse_selected() -> str | None:
        body = scene.custom.get_namespaced_custom_object(
            "pulse.dev", "v1alpha1", examples, "metricscollectors", "checkout"
        )
        conditions = {c["type"]: c for c in (body.get("status") or {}).get("conditions", [])}
        selected = conditions.get("Selected", {})
        return str(selected["message"]) if selected.get("status") == "True" else None

    message = eventually(pulse_selected, timeout=60, what="the collector Selected=True")
    assert f"ServiceMonitor/checkout by Prometheus {monitoring}/kps" in message
