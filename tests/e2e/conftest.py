"""Fixtures for the real-node tests: the local control plane with a real kubelet, containerd
and runc beside KWOK, the images `make images` built, and the operator on the host.

`make e2e` (hack/run-e2e.sh) decides whether this stage can run on the machine and says so;
here a missing piece fails the test with its reason, it never skips.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import kubernetes
import pytest
import yaml
from pulse_devcluster import node, paths
from pulse_devcluster.alerting import Receiver
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.loopback import serve
from pulse_devcluster.operator import start_operator
from pulse_devcluster.processes import ManagedProcess
from tests.integration.sidecar.sidecar_upstreams import Prometheus, http_get
from tests.support import eventually

REPO = Path(__file__).resolve().parents[2]
DEMO_EXAMPLE = REPO / "examples" / "real-node" / "demo.yaml"
DEMO_SLO_EXAMPLE = REPO / "examples" / "real-node" / "slo.yaml"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI runner giving up, a service manager) ends the run as Ctrl-C does, so
    the node's fixture still undoes its host changes; SIGKILL leaves them to the next start."""
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(crd_files=[*paths.pulse_crds(), *paths.third_party_crds()]) as running:
        yield running


@pytest.fixture(scope="session")
def real_node(cluster: LocalCluster) -> Iterator[node.RealNode]:
    reason = node.unavailable_reason()
    if reason:
        pytest.fail(f"the real node cannot start here: {reason}")
    with node.RealNode(cluster) as running:
        yield running
        # shown when a test failed: what the kubelet said last
        print(f"--- last lines of the kubelet's log:\n{running.log_tail('kubelet', 40)}")


@pytest.fixture(scope="session")
def pulse_operator(cluster: LocalCluster, real_node: node.RealNode) -> Iterator[ManagedProcess]:
    process = start_operator(cluster)
    try:
        yield process
    finally:
        process.stop()
        print(f"--- last lines of the operator's log:\n{process.log_tail(40)}")


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture
def namespace(api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace that enforces the `restricted` Pod Security Standard."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace(
        {"metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    yield name
    core.delete_namespace(name)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Prometheus]:
    """A real Prometheus accepting remote write on the pod network's gateway address: the
    pods reach it, nothing off the machine does."""
    prometheus = Prometheus(tmp_path, host=node.GATEWAY_IP)
    prometheus.start()
    yield prometheus
    prometheus.stop()


@pytest.fixture
def monitoring(api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A namespace for a Prometheus and an Alertmanager (podstack.run_on_node)."""
    core = kubernetes.client.CoreV1Api(api_client)
    name = f"monitoring-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


@pytest.fixture
def webhook() -> Iterator[tuple[Receiver, int]]:
    """Alertmanager's webhook receiver, on the node's gateway where the Alertmanager pod
    reaches it (the scene's `receiver` is the sink's upstream)."""
    received = Receiver()
    with serve(received.take, host=node.GATEWAY_IP) as port:
        yield received, port


@dataclass
class Scene:
    """One test's stage on the real node: the cluster and node, the operator, a fresh
    restricted namespace and a real receiver; the demo collector is played on it."""

    cluster: LocalCluster
    node: node.RealNode
    operator: ManagedProcess
    namespace: str
    receiver: Prometheus

    def apply(self, document: dict[str, Any]) -> None:
        self.cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(document))

    def collector(self) -> dict[str, Any]:
        """The example demo collector, in this namespace, writing to this receiver."""
        return demo_collector(self.namespace, self.receiver.url)

    def get(self, kind: str, name: str) -> dict[str, Any]:
        got = self.cluster.kubectl("get", kind, name, "-n", self.namespace, "-o", "json")
        found: dict[str, Any] = json.loads(got.stdout)
        return found

    def pods(self) -> list[dict[str, Any]]:
        return pods_of(self.cluster, self.namespace, "demo")

    def ready_pod(self) -> dict[str, Any]:
        return ready_pod(self.cluster, self.namespace, "demo")


@pytest.fixture
def scene(
    cluster: LocalCluster,
    real_node: node.RealNode,
    pulse_operator: ManagedProcess,
    namespace: str,
    receiver: Prometheus,
) -> Scene:
    return Scene(cluster, real_node, pulse_operator, namespace, receiver)


def demo_collector(namespace: str, receiver_url: str | None = None) -> dict[str, Any]:
    """The example MetricsCollector of examples/real-node, in `namespace`, writing to
    `receiver_url` instead of the demo's receiver."""
    documents = list(yaml.safe_load_all(DEMO_EXAMPLE.read_text()))
    collector: dict[str, Any] = next(d for d in documents if d["kind"] == "MetricsCollector")
    collector["metadata"]["namespace"] = namespace
    if receiver_url is not None:
        collector["spec"]["sinks"][0]["remoteWrite"]["url"] = f"{receiver_url}/api/v1/write"
    return collector


def demo_slo_documents(namespace: str) -> list[dict[str, Any]]:
    """examples/real-node/slo.yaml (the app's PodMonitor and an SLO on its requests),
    moved to `namespace`, queries included."""
    text = DEMO_SLO_EXAMPLE.read_text().replace(
        'namespace="pulse-demo"', f'namespace="{namespace}"'
    )
    documents = list(yaml.safe_load_all(text))
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


def rule_uid(scene: Scene, name: str) -> str:
    """A PrometheusRule's uid in the scene's namespace, or empty while it does not exist."""
    found = scene.cluster.kubectl(
        "get", "prometheusrule", name, "-n", scene.namespace, "-o", "jsonpath={.metadata.uid}",
        check=False,
    )  # fmt: skip
    return found.stdout.strip() if found.returncode == 0 else ""


def pods_of(cluster: LocalCluster, namespace: str, collector: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={collector}"
    listed = cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json")
    pods: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return pods


def ready_pod(cluster: LocalCluster, namespace: str, collector: str) -> dict[str, Any]:
    """The collector's one pod once the kubelet reports it Ready, after waiting for it."""

    def find() -> dict[str, Any] | None:
        for pod in pods_of(cluster, namespace, collector):
            conditions = pod.get("status", {}).get("conditions", [])
            if pod["metadata"].get("deletionTimestamp") is None and any(
                c["type"] == "Ready" and c["status"] == "True" for c in conditions
            ):
                return pod
        return None

    pod = eventually(find, timeout=120, what=f"a Ready pod of {namespace}/{collector}")
    assert pod is not None
    return pod


SIDECAR_PORT = 8000
"""The sidecar's port in the demo collector's pods (the default)."""


def sidecar_status(pod: dict[str, Any]) -> dict[str, Any]:
    """The sidecar's /status document, asked from the host at the pod's IP."""
    code, body = http_get(f"http://{pod['status']['podIP']}:{SIDECAR_PORT}/status")
    assert code == 200, body
    document: dict[str, Any] = json.loads(body)
    return document


def condition(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in resource.get("status", {}).get("conditions", []) if c["type"] == kind]
    assert found, f"no {kind} condition in {resource.get('status')}"
    return found[0]
