"""Reconciling an SLO against the in-memory API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.operator.fake_kube import FakeKube

from pulse_operator.api.objects import Object
from pulse_operator.reconcile.children import ChildEvent
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.reconcile.slo import reconcile_slo, slo_child_changed
from pulse_operator.settings import OperatorSettings

NS = "shop"
SETTINGS = OperatorSettings(runbook_base_url="https://runbooks.example.com/pulse")
EXAMPLE = Path(__file__).parents[3] / "examples" / "slos" / "api-error-rate.yaml"


def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return dict(document["spec"])


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


def slo(kube: FakeKube, slo_spec: dict[str, Any]) -> Object:
    return kube.create(
        {
            "apiVersion": "pulse.dev/v1alpha1",
            "kind": "SLO",
            "metadata": {"name": "api", "namespace": NS},
            "spec": slo_spec,
        }
    )


def current(kube: FakeKube) -> Object:
    obj = kube.get("SLO", NS, "api")
    assert obj is not None
    return obj


def conditions(obj: Object) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


def test_an_slo_gets_its_rule_and_a_status_with_the_window_table(kube: FakeKube) -> None:
    outcome = reconcile_slo(kube, SETTINGS, slo(kube, spec()), prune=False)
    assert outcome.applied == ["PrometheusRule/api-slo"]
    rule = kube.get("PrometheusRule", NS, "api-slo")
    assert rule is not None
    rules = rule["spec"]["groups"][0]["rules"]
    status = current(kube)["status"]
    assert status["rules"] == len(rules)
    assert status["children"] == ["PrometheusRule/api-slo"]
    assert [w["longWindow"] for w in status["burnRateWindows"]] == ["1h", "6h", "1d", "3d"]
    ready = conditions(current(kube))["Ready"]
    assert (ready["status"], ready["reason"]) == ("True", "RulesApplied")
    assert ready["message"] == f"{len(rules)} rules in PrometheusRule/api-slo"
    runbooks = {r["annotations"]["runbook_url"] for r in rules if "alert" in r}
    assert runbooks == {"https://runbooks.example.com/pulse/slo-error-budget-burn.md"}


def test_a_second_reconciliation_changes_nothing(kube: FakeKube) -> None:
    reconcile_slo(kube, SETTINGS, slo(kube, spec()), prune=False)
    kube.changes.clear()
    kube.requests.clear()
    reconcile_slo(kube, SETTINGS, current(kube), prune=True)
    assert kube.changes == []
    assert kube.requests == ["apply PrometheusRule/api-slo"]  # the status is not rewritten


def test_a_rule_edited_by_hand_is_restored_and_an_untouched_one_is_not_rewritten(
    kube: FakeKube,
) -> None:
    reconcile_slo(kube, SETTINGS, slo(kube, spec()), prune=False)
    untouched = kube.get("PrometheusRule", NS, "api-slo")
    assert untouched is not None
    kube.requests.clear()
    assert (
        slo_child_changed(
            kube, SETTINGS, current(kube), ChildEvent(untouched, False, Corrections())
        )
        is None
    )
    assert kube.requests == []

    def hand_edit(rule: Object) -> None:
        rule["spec"]["groups"][0]["rules"] = []

    kube.edit("PrometheusRule", NS, "api-slo", hand_edit)
    edited = kube.get("PrometheusRule", NS, "api-slo")
    assert edited is not None
    outcome = slo_child_changed(
        kube, SETTINGS, current(kube), ChildEvent(edited, False, Corrections())
    )
    assert outcome is not None
    assert outcome.applied == ["PrometheusRule/api-slo"]
    restored = kube.get("PrometheusRule", NS, "api-slo")
    assert restored is not None
    assert restored["spec"] == untouched["spec"]


def test_promql_that_does_not_parse_is_reported_and_the_last_good_rule_stays(
    kube: FakeKube,
) -> None:
    reconcile_slo(kube, SETTINGS, slo(kube, spec()), prune=False)
    bad = spec()
    bad["sli"]["ratio"]["errorQuery"] = "sum(rate(errors[{{.window}}])"

    kube.edit("SLO", NS, "api", lambda obj: obj.update(spec=bad))
    outcome = reconcile_slo(kube, SETTINGS, current(kube), prune=True)
    assert outcome.permanent_error is not None
    assert outcome.permanent_error.startswith("spec.sli.ratio.errorQuery: line 1")
    degraded = conditions(current(kube))["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidPromQL")
    assert kube.exists("PrometheusRule", NS, "api-slo")


def test_without_prometheus_operator_the_slo_says_so_and_applies_nothing(
    kube: FakeKube,
) -> None:
    kube.unserved = {"PrometheusRule"}
    outcome = reconcile_slo(kube, SETTINGS, slo(kube, spec()), prune=True)
    assert outcome.applied == []
    found = conditions(current(kube))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == (
        "False",
        "PrometheusOperatorMissing",
    )
    assert outcome.warnings == [(found["Degraded"]["reason"], found["Degraded"]["message"])]
    assert current(kube)["status"]["children"] == []
