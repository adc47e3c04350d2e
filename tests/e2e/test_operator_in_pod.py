"""The operator from its own image, installed with the Helm chart, reconciling from inside
a pod on the real node with the chart's ServiceAccount, as on a user's cluster.

A control plane and a node of their own: the session's operator (on the host, with admin
credentials) must not do the work that this one has to be seen doing. In-cluster clients
reach the API server through the `kubernetes` Service address, which the node maps to the
API server (node.py, apiproxy.py) as kube-proxy would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pulse_devcluster import node
from pulse_devcluster.cluster import LocalCluster
from tests.e2e.conftest import demo_collector
from tests.integration.install.install_testing import (
    Api,
    Installer,
    audit_events,
    service_account_user,
)
from tests.support import eventually

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as running:
        yield running


@pytest.fixture(scope="module")
def own_node(own_cluster: LocalCluster) -> Iterator[node.RealNode]:
    with node.RealNode(own_cluster, network=1) as running:
        yield running


def _pods(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    listed = cluster.kubectl("get", "pods", "-n", namespace, "-o", "json")
    pods: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return pods


def test_the_chart_runs_the_operator_image_in_a_pod_that_reconciles(
    own_cluster: LocalCluster, own_node: node.RealNode
) -> None:
    api = Api(own_cluster)
    installer = Installer(own_cluster, api, [])
    placement = {
        "nodeSelector": {node.NODE_KIND_LABEL: "real"},
        "tolerations": [{"key": node.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
    }
    namespace = "demo-in-pod"
    api.create_namespace(namespace, RESTRICTED)
    # the images were imported: nothing is to be pulled (there is no registry); one watched
    # namespace, so kopf starts watching at once (cluster-wide it first retries listing
    # CRDs, which the chart does not grant, for about a minute)
    values = {"image": {"pullPolicy": "Never"}, "watchNamespaces": [namespace], **placement}
    release = installer.install(values, namespace_labels=RESTRICTED)  # waits for Ready
    try:
        (operator_pod,) = _pods(own_cluster, release.namespace)
        assert operator_pod["spec"]["nodeName"] == own_node.name
        (state,) = operator_pod["status"]["containerStatuses"]
        assert state["ready"], state
        assert state["image"].endswith("pulse-operator:0.1.0"), state

        collector = demo_collector(namespace)
        collector["spec"]["sinks"] = []
        api.apply(collector)

        def ready() -> bool:
            found = api.get("MetricsCollector", namespace, "demo") or {}
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in found.get("status", {}).get("conditions", [])
            )

        eventually(ready, timeout=120, what="the in-pod operator to make the collector Ready")
        (collector_pod,) = _pods(own_cluster, namespace)
        assert collector_pod["spec"]["nodeName"] == own_node.name
        # every write that made it so came from the chart's ServiceAccount, in the pod
        user = service_account_user(release.namespace, release.operator_name)
        writes = [
            e
            for e in audit_events(own_cluster, user)
            if e["objectRef"].get("namespace") == namespace
        ]
        written = {(e["objectRef"]["resource"], e["verb"]) for e in writes}
        assert {("deployments", "patch"), ("configmaps", "patch")} <= written, written
        children = {"configmaps", "deployments", "services", "podmonitors", "prometheusrules"}
        writers = {
            e["user"]["username"]
            for e in audit_events(own_cluster)
            if e["objectRef"].get("namespace") == namespace
            and e["objectRef"]["resource"] in children
            and e["verb"] == "patch"
        }
        assert writers == {user}, writers
        # with the token the kubelet mounted into that pod (bound tokens name their pod)
        pods_of_writes = {
            name
            for e in writes
            for name in e["user"].get("extra", {}).get("authentication.kubernetes.io/pod-name", [])
        }
        assert pods_of_writes == {operator_pod["metadata"]["name"]}, pods_of_writes
    finally:
        installer.uninstall(release)
        api.delete("Namespace", None, namespace)
