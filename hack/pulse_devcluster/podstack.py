"""Prometheus and Alertmanager as pods on the real node, as Prometheus Operator runs them.

On a cluster with a real node, the `Prometheus` and `Alertmanager` objects of
alerting.create_monitoring_stack are completed as a user completes them on a cluster
without a registry: images of `make tools`'s binaries (hack/images/build.sh), the node's
selector and toleration, and a service account that may read what Kubernetes service
discovery reads. Prometheus Operator then makes their StatefulSets, the kubelet runs them
(the config reloader expands the configuration in the pod), Prometheus discovers the
Alertmanager through the `alertmanager-operated` Service Prometheus Operator makes, and the
in-cluster API reaches the API server through the node's relay (apiproxy.py).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pulse_devcluster import paths
from pulse_devcluster.alerting import RELEASE, apply_documents, monitoring_documents
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import api_get
from pulse_devcluster.node import GATEWAY_IP, NODE_KIND_LABEL, TAINT_KEY

SERVICE_ACCOUNT = "prometheus-kps"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
_DISCOVERY_RULES = [
    {"apiGroups": [""], "resources": ["pods", "services", "endpoints", "nodes"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
     "verbs": ["get", "list", "watch"]},
]  # fmt: skip


def tool_version(name: str) -> str:
    """The version a `make tools` binary reports, as its image is tagged (`v3.15.0`)."""
    said = subprocess.run(
        [paths.binary(name), "--version"], capture_output=True, text=True, check=True
    )
    first = (said.stdout or said.stderr).splitlines()[0]  # "prometheus, version 3.15.0 (...)"
    return "v" + first.split(" version ", 1)[1].split()[0]


def _on_the_node() -> dict[str, Any]:
    return {
        "nodeSelector": {NODE_KIND_LABEL: "real"},
        "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
    }


def as_pods(namespace: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`documents` (create_monitoring_stack's) changed to run on the real node: the images
    and versions of `make tools`'s binaries, Alertmanager found through its Service, and
    the service account and RBAC of Prometheus's service discovery added."""
    for document in documents:
        kind, spec = document["kind"], document.get("spec", {})
        if kind == "Alertmanager":
            version = tool_version("alertmanager")
            spec.update(image=f"alertmanager:{version}", version=version, **_on_the_node())
        elif kind == "Prometheus":
            version = tool_version("prometheus")
            spec.update(image=f"prometheus:{version}", version=version, **_on_the_node())
            spec["serviceAccountName"] = SERVICE_ACCOUNT
            operated = {"namespace": namespace, "name": "alertmanager-operated", "port": "web"}
            spec["alerting"] = {"alertmanagers": [operated]}
    role = f"{namespace}-{SERVICE_ACCOUNT}"
    access: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": role}, "rules": _DISCOVERY_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": role},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}]},
    ]  # fmt: skip
    return [*access, *documents]


def _ready_pod_ip(cluster: LocalCluster, namespace: str, name: str) -> str:
    """The pod's IP once the kubelet reports it Ready; empty before."""
    pods = api_get(cluster, f"/api/v1/namespaces/{namespace}/pods")["items"]
    for pod in pods:
        conditions = pod.get("status", {}).get("conditions", [])
        if pod["metadata"]["name"] == name and any(
            c["type"] == "Ready" and c["status"] == "True" for c in conditions
        ):
            return str(pod["status"]["podIP"])
    return ""


@dataclass(frozen=True)
class PodStack:
    """Where the Prometheus and Alertmanager pods serve, from the host."""

    prometheus_url: str
    alertmanager_url: str
    started: float
    """time.monotonic() when both pods were Ready."""


def _what_the_pods_say(cluster: LocalCluster, namespace: str) -> str:
    described = cluster.kubectl("describe", "pods", "-n", namespace, check=False)
    return described.stdout[-6000:]


@contextmanager
def run_on_node(
    cluster: LocalCluster,
    namespace: str,
    receiver_port: int,
    selects: Mapping[str, str] = RELEASE,
    timeout: float = 240.0,
) -> Iterator[PodStack]:
    """A Prometheus `kps` and an Alertmanager `main` (alerting.monitoring_documents, as
    kube-prometheus-stack configures them) run as pods on the real node, notifying the
    webhook receiver on the node's gateway at `receiver_port`. Apply what they must load
    first: the pods read their rule files when they start (the kubelet refreshes a mounted
    ConfigMap only about once a minute). On exit both objects are deleted, their pods gone,
    and the cluster-wide RBAC removed."""
    documents = as_pods(
        namespace,
        monitoring_documents(
            namespace,
            receiver_url=f"http://{GATEWAY_IP}:{receiver_port}/",
            alertmanagers=[],
            selects=selects,
        ),
    )
    apply_documents(cluster, documents)
    try:
        ips = {}
        deadline = time.monotonic() + timeout
        for pod in ("alertmanager-main-0", "prometheus-kps-0"):
            while not (ip := _ready_pod_ip(cluster, namespace, pod)):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{namespace}/{pod} not Ready after {timeout:.0f}s:\n"
                        + _what_the_pods_say(cluster, namespace)
                    )
                time.sleep(1)
            ips[pod] = ip
        yield PodStack(
            prometheus_url=f"http://{ips['prometheus-kps-0']}:{PROMETHEUS_PORT}",
            alertmanager_url=f"http://{ips['alertmanager-main-0']}:{ALERTMANAGER_PORT}",
            started=time.monotonic(),
        )
    finally:
        for kind, name in (("prometheus", "kps"), ("alertmanager", "main")):
            cluster.kubectl("delete", kind, name, "-n", namespace, "--wait=true",
                            "--ignore-not-found", check=False)  # fmt: skip
        role = f"{namespace}-{SERVICE_ACCOUNT}"
        cluster.kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found",
                        check=False)  # fmt: skip
