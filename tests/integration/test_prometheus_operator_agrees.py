"""The real Prometheus Operator loads exactly the rules Pulse's Selected condition says it
loads: the condition is checked against the decision it predicts, not against itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import loaded_rule_files, loaded_rules
from pulse_devcluster.processes import ManagedProcess
from tests.integration.test_slo_operator import RATIO_SPEC
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator", "sole_readers")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted([*(REPO / "examples" / "slos").glob("*.yaml"),
                   *(REPO / "examples" / "collectors").glob("*.yaml")])  # fmt: skip
MONITORING = ("monitoring.coreos.com", "v1")
PLURALS = {"SLO": "slos", "MetricsCollector": "metricscollectors"}
KPS = {"matchLabels": {"release": "kube-prometheus-stack"}}


class Scene:
    """Namespaces made for the test, and the objects in them (deleted with them)."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.api_client = api_client
        self.namespaces: list[str] = []

    def namespace(self, role: str, labels: dict[str, str] | None = None) -> str:
        name = f"{role}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
        self.namespaces.append(name)
        return name

    def create(self, namespace: str, document: dict[str, Any]) -> None:
        """An example's document (a Pulse resource or a core/v1 one) in `namespace`."""
        document = {**document, "metadata": {**document["metadata"], "namespace": namespace}}
        if document["kind"] in PLURALS:
            self.custom_object(namespace, PLURALS[document["kind"]], document)
        else:
            kubernetes.utils.create_from_dict(self.api_client, document, namespace=namespace)

    def custom_object(self, namespace: str, plural: str, document: dict[str, Any]) -> None:
        group, version = document["apiVersion"].split("/")
        self.custom.create_namespaced_custom_object(group, version, namespace, plural, document)

    def prometheus(self, namespace: str, name: str, **spec: Any) -> str:
        self.custom_object(namespace, "prometheuses", {
            "apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": {"name": name}, "spec": spec})  # fmt: skip
        return f"{namespace}/{name}"

    def slo(self, namespace: str, name: str, **extra: Any) -> None:
        self.custom_object(namespace, "slos", {
            "apiVersion": "pulse.dev/v1alpha1", "kind": "SLO",
            "metadata": {"name": name}, "spec": {**RATIO_SPEC, **extra}})  # fmt: skip

    def rules(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Pulse's PrometheusRules in the scene: namespace/name -> (uid, their owner)."""
        found = {}
        for namespace in self.namespaces:
            listed = self.custom.list_namespaced_custom_object(
                *MONITORING, namespace, "prometheusrules"
            )
            for rule in listed["items"]:
                (owner,) = rule["metadata"]["ownerReferences"]
                body = self.custom.get_namespaced_custom_object(
                    "pulse.dev", "v1alpha1", namespace, PLURALS[owner["kind"]], owner["name"]
                )
                key = f"{namespace}/{rule['metadata']['name']}"
                found[key] = (rule["metadata"]["uid"], body)
        return found

    def delete(self) -> None:
        for namespace in self.namespaces:
            self.core.delete_namespace(namespace)


@pytest.fixture
def scene(api_client: kubernetes.client.ApiClient) -> Iterator[Scene]:
    made = Scene(api_client)
    try:
        yield made
    finally:
        made.delete()


def pulse_says(rule: str, owner: dict[str, Any]) -> set[str] | None:
    """The Prometheus objects (namespace/name) that the owner's Selected condition says
    load this rule; None while it has not judged."""
    conditions = {c["type"]: c for c in owner.get("status", {}).get("conditions", [])}
    selected = conditions.get("Selected")
    if selected is None or selected.get("observedGeneration") != owner["metadata"]["generation"]:
        return None
    if selected["status"] != "True":
        return set()
    name = rule.split("/", 1)[1]
    for part in selected["message"].split("; "):
        subject, _, readers = part.partition(" by ")
        if subject == f"PrometheusRule/{name}":
            return {r.removeprefix("Prometheus ") for r in readers.split(", ")}
    raise AssertionError(f"{rule} missing from {selected['message']!r}")


def test_prometheus_operator_loads_exactly_the_rules_selected_says(
    cluster: LocalCluster, scene: Scene, prometheus_operator: ManagedProcess
) -> None:
    monitoring = scene.namespace("monitoring")
    examples = scene.namespace("examples", {"pulse-examples": "yes"})
    team = scene.namespace("team")
    other = scene.namespace("other")
    kps = scene.prometheus(
        monitoring, "kps",
        ruleSelector=KPS, ruleNamespaceSelector={},
        serviceMonitorSelector=KPS, serviceMonitorNamespaceSelector={},
    )  # fmt: skip
    only_examples = {"matchLabels": {"pulse-examples": "yes"}}
    by_label = scene.prometheus(
        monitoring, "examples",
        ruleSelector={}, ruleNamespaceSelector=only_examples,
        serviceMonitorSelector={}, serviceMonitorNamespaceSelector=only_examples,
        podMonitorSelector={}, podMonitorNamespaceSelector=only_examples,
    )  # fmt: skip
    own = scene.prometheus(team, "own", ruleSelector={})  # its own namespace only
    owners = 3  # the SLOs below; each owner here makes one PrometheusRule
    for path in EXAMPLES:
        for document in yaml.safe_load_all(path.read_text()):
            scene.create(examples, document)
            owners += document["kind"] in ("SLO", "MetricsCollector")
    scene.slo(team, "labelled", selectorLabels={"release": "kube-prometheus-stack"})
    scene.slo(other, "labelled", selectorLabels={"release": "kube-prometheus-stack"})
    scene.slo(other, "stray")
    readers = [(monitoring, "kps"), (monitoring, "examples"), (team, "own")]

    def views() -> tuple[dict[str, set[str] | None], dict[str, set[str]]]:
        rules = scene.rules()
        uids = {rule: uid for rule, (uid, _) in rules.items()}
        operator: dict[str, set[str]] = {rule: set() for rule in rules}
        for namespace, name in readers:
            files = loaded_rule_files(cluster, namespace, name)
            for rule in loaded_rules(files, uids):
                operator[rule].add(f"{namespace}/{name}")
        pulse = {rule: pulse_says(rule, owner) for rule, (_, owner) in rules.items()}
        return pulse, operator

    def agree() -> bool:
        prometheus_operator.ensure_running()
        pulse, operator = views()
        return len(pulse) == owners and pulse == operator

    eventually(agree, timeout=90, what=f"Selected agreeing with Prometheus Operator: {views()}")
    pulse, _ = views()
    assert pulse[f"{team}/labelled-slo"] == {kps, own}
    assert pulse[f"{other}/labelled-slo"] == {kps}
    assert pulse[f"{other}/stray-slo"] == set()
    example_rules = {rule: found for rule, found in pulse.items() if rule.startswith(examples)}
    assert example_rules, "no example made a PrometheusRule"
    # every example is loaded by the Prometheus that selects its namespace, and the one
    # whose rule labels name kube-prometheus-stack's release also by that one
    assert example_rules == {
        rule: {by_label, kps} if rule.endswith("/checkout-alerts") else {by_label}
        for rule in example_rules
    }
