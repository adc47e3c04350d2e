"""The operator turns SLOs into PrometheusRules the real Prometheus Operator CRD accepts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "slos").glob("*.yaml"))
RATIO_SPEC: dict[str, Any] = {
    "service": "api",
    "objective": 99.9,
    "window": "30d",
    "sli": {
        "ratio": {
            "errorQuery": 'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))',
            "totalQuery": 'sum(rate(http_requests_total{job="api"}[{{.window}}]))',
        }
    },
}


class Slos:
    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)

    def create(self, name: str, spec: dict[str, Any]) -> Any:
        return self.custom.create_namespaced_custom_object(
            "pulse.dev", "v1alpha1", self.namespace, "slos",
            {"apiVersion": "pulse.dev/v1alpha1", "kind": "SLO",
             "metadata": {"name": name}, "spec": spec},
        )  # fmt: skip

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            "pulse.dev", "v1alpha1", self.namespace, "slos", name
        )
        return found

    def rule(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.custom.get_namespaced_custom_object(
                "monitoring.coreos.com", "v1", self.namespace, "prometheusrules", f"{name}-slo"
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        conditions = self.get(name).get("status", {}).get("conditions", [])
        return next((dict(c) for c in conditions if c["type"] == kind), {})


@pytest.fixture
def slos(api_client: kubernetes.client.ApiClient, namespace: str) -> Slos:
    return Slos(api_client, namespace)


def _ready(slos: Slos, name: str) -> bool:
    return slos.condition(name, "Ready").get("status") == "True"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_slo_gets_a_prometheus_rule_and_its_window_table(
    slos: Slos, example: Path
) -> None:
    manifest = yaml.safe_load(example.read_text())
    name = manifest["metadata"]["name"]
    slos.create(name, manifest["spec"])
    eventually(lambda: _ready(slos, name), what=f"{name} Ready=True")
    status = slos.get(name)["status"]
    rule = slos.rule(name)
    assert rule is not None
    alerts = [r for r in rule["spec"]["groups"][0]["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} == {"SLOErrorBudgetBurn"}
    assert status["rules"] == len(rule["spec"]["groups"][0]["rules"])
    assert status["sliKind"] in {"ratio", "latency", "availability", "freshness", "saturation"}
    assert [w["severity"] for w in status["burnRateWindows"]] == [
        "critical", "critical", "warning", "warning",
    ]  # fmt: skip
    assert rule["metadata"]["ownerReferences"][0]["uid"] == slos.get(name)["metadata"]["uid"]


def test_editing_the_objective_updates_the_rule_and_deleting_removes_it(slos: Slos) -> None:
    slos.create("edit", RATIO_SPEC)
    eventually(lambda: _ready(slos, "edit"), what="Ready=True")
    slos.custom.patch_namespaced_custom_object(
        "pulse.dev", "v1alpha1", slos.namespace, "slos", "edit", {"spec": {"objective": 99.5}}
    )

    def budget_updated() -> bool:
        rule = slos.rule("edit")
        return rule is not None and "0.005" in yaml.safe_dump(rule["spec"])

    eventually(budget_updated, what="the rule to use the 0.5% budget")
    slos.custom.delete_namespaced_custom_object(
        "pulse.dev", "v1alpha1", slos.namespace, "slos", "edit"
    )
    eventually(lambda: slos.rule("edit") is None, what="the rule to be garbage-collected")


def test_invalid_promql_degrades_with_its_position_and_keeps_the_last_good_rule(
    slos: Slos,
) -> None:
    slos.create("typo", RATIO_SPEC)
    eventually(lambda: _ready(slos, "typo"), what="Ready=True")
    good = slos.rule("typo")
    assert good is not None

    broken = copy.deepcopy(RATIO_SPEC["sli"])
    broken["ratio"]["errorQuery"] = 'sum(rate(http_requests_total{job="api"}[{{.window}}])'
    slos.custom.patch_namespaced_custom_object(
        "pulse.dev", "v1alpha1", slos.namespace, "slos", "typo", {"spec": {"sli": broken}}
    )
    eventually(
        lambda: slos.condition("typo", "Degraded").get("reason") == "InvalidPromQL",
        what="Degraded=InvalidPromQL",
    )
    message = slos.condition("typo", "Degraded")["message"]
    assert "spec.sli.ratio.errorQuery: line 1, column" in message
    assert slos.condition("typo", "Ready")["status"] == "False"
    current = slos.rule("typo")
    assert current is not None
    assert current["spec"] == good["spec"]
    warnings = [
        e
        for e in slos.core.list_namespaced_event(slos.namespace).items
        if e.involved_object.name == "typo" and e.type == "Warning"
    ]
    assert any(e.reason == "InvalidPromQL" for e in warnings)


def test_a_deleted_rule_is_restored(slos: Slos) -> None:
    slos.create("keep", RATIO_SPEC)
    eventually(lambda: _ready(slos, "keep"), what="Ready=True")
    slos.custom.delete_namespaced_custom_object(
        "monitoring.coreos.com", "v1", slos.namespace, "prometheusrules", "keep-slo"
    )
    eventually(lambda: slos.rule("keep") is not None, timeout=15, what="the rule to come back")
