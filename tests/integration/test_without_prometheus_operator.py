"""Without Prometheus Operator's CRDs, a MetricsCollector still runs and says what is missing."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest
from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.operator import start_operator
from tests.support import eventually


@pytest.fixture(scope="module")
def bare_cluster() -> Iterator[LocalCluster]:
    """A control plane with Pulse's CRDs only, and the operator running against it."""
    with LocalCluster(crd_files=paths.pulse_crds()) as cluster:
        operator = start_operator(cluster)
        try:
            yield cluster
        finally:
            operator.stop()
            print(f"--- operator log:\n{operator.log_tail(30)}")


def test_the_collector_runs_and_a_condition_names_what_was_not_created(
    bare_cluster: LocalCluster,
) -> None:
    api = kubernetes.config.new_client_from_config(config_file=str(bare_cluster.kubeconfig))
    custom = kubernetes.client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "pulse.dev", "v1alpha1", "default", "metricscollectors",
        {"apiVersion": "pulse.dev/v1alpha1", "kind": "MetricsCollector",
         "metadata": {"name": "web"}, "spec": {"collector": {"image": "app:1"}}},
    )  # fmt: skip

    def conditions() -> dict[str, dict[str, str]]:
        body = custom.get_namespaced_custom_object(
            "pulse.dev", "v1alpha1", "default", "metricscollectors", "web"
        )
        return {c["type"]: c for c in body.get("status", {}).get("conditions", [])}

    eventually(lambda: conditions().get("Ready", {}).get("status") == "True", what="Ready")
    degraded = conditions()["Degraded"]
    assert degraded["status"] == "True"
    assert degraded["reason"] == "PrometheusOperatorMissing"
    assert "ServiceMonitor/web" in degraded["message"]
    assert "PrometheusRule/web-alerts" in degraded["message"]
    deployment = kubernetes.client.AppsV1Api(api).read_namespaced_deployment("web", "default")
    assert deployment.status.available_replicas == 1
