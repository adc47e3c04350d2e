"""The live part of the status (Loaded, DataPresent, the SLO's numbers) from a Prometheus
snapshot, written by the live refresh and carried over by every other status write."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.operator.fake_kube import FakeKube

from pulse_operator import live
from pulse_operator.api.objects import Object
from pulse_operator.api.slo import SLOSpec
from pulse_operator.promapi import RuleGroup, Snapshot
from pulse_operator.reconcile.collector import reconcile_collector
from pulse_operator.reconcile.live_status import collector_live, slo_live, write_live
from pulse_operator.reconcile.slo import reconcile_slo
from pulse_operator.settings import OperatorSettings, SettingsError

NS = "shop"
SETTINGS = OperatorSettings(prometheus_url="http://prometheus:9090")
EXAMPLE = Path(__file__).parents[3] / "examples" / "slos" / "api-error-rate.yaml"
UID = "0b4a3c1e-2f6d-4e8a-9c1b-7d5e3f2a1b0c"
SOURCE = "Prometheus at http://prometheus:9090"
RULE_FILE = f"/etc/prometheus/rules/prometheus-k8s-rulefiles-0/{NS}-api-slo-{UID}.yaml"
# budget 1% over 30d: 0.25% bad over the window, 3% over the last 5m
SERIES = {
    "pulse_slo:sli_total_events:rate5m": 120.0,
    "pulse_slo:sli_error:ratio_rate30d": 0.0025,
    "pulse_slo:error_budget_remaining:ratio": 0.75,
    "pulse_slo:current_burn_rate:ratio": 3.0,
    "pulse_slo:sli_error:ratio_rate5m": 0.03,
    "pulse_slo:sli_error:ratio_rate1h": 0.0144,
}


def snapshot(**changes: Any) -> Snapshot:
    group = RuleGroup(file=RULE_FILE, name="pulse-slo-api", rules=30, unhealthy=(), evaluated=True)
    fields: dict[str, Any] = {
        "groups": (group,),
        "series": {(NS, "api"): SERIES},
        "source": SOURCE,
        **changes,
    }
    return Snapshot(**fields)


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


def owner(kube: FakeKube, kind: str, name: str, spec: dict[str, Any]) -> Object:
    metadata = {"name": name, "namespace": NS}
    return kube.create(
        {"apiVersion": "pulse.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
    )


def applied_slo(kube: FakeKube) -> Object:
    body = owner(kube, "SLO", "api", yaml.safe_load(EXAMPLE.read_text())["spec"])
    reconcile_slo(kube, SETTINGS, body, prune=False)
    return current(kube)


def current(kube: FakeKube, kind: str = "SLO", name: str = "api") -> Object:
    obj = kube.get(kind, NS, name)
    assert obj is not None
    return obj


def conditions(obj: Object) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


def refreshed(kube: FakeKube, taken: Snapshot) -> Object:
    document = slo_live(SETTINGS, current(kube), taken)
    assert document is not None, "the live part should have moved"
    write_live(kube, current(kube), document)
    return current(kube)


def test_a_loaded_slo_with_data_reports_its_numbers(kube: FakeKube) -> None:
    applied_slo(kube)
    body = refreshed(kube, snapshot())
    found = conditions(body)
    assert found["Loaded"]["status"] == "True"
    assert found["Loaded"]["reason"] == "RulesLoaded"
    assert found["Loaded"]["message"] == f"30 rules of PrometheusRule/api-slo in {SOURCE}"
    assert (found["DataPresent"]["status"], found["DataPresent"]["reason"]) == (
        "True",
        "SeriesFound",
    )
    numbers = body["status"]["live"]
    assert numbers["sliPercent"] == 99.75
    assert numbers["errorBudgetRemainingPercent"] == 75.0
    assert numbers["burnRates"] == {"5m": 3.0, "1h": 1.44}
    at = datetime.datetime.fromisoformat(numbers["budgetExhaustedAt"])
    expected = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30 * 0.75 / 3)
    assert abs(at - expected) <= datetime.timedelta(minutes=6)
    assert found["Ready"]["status"] == "True", "the reconciler's conditions stay"


def test_steady_numbers_are_not_written_again(kube: FakeKube) -> None:
    applied_slo(kube)
    refreshed(kube, snapshot())
    noise = {**SERIES, "pulse_slo:sli_error:ratio_rate30d": 0.0025001}
    assert slo_live(SETTINGS, current(kube), snapshot(series={(NS, "api"): noise})) is None


def test_a_reconciliation_carries_the_live_part_over(kube: FakeKube) -> None:
    applied_slo(kube)
    before = refreshed(kube, snapshot())["status"]
    writes = len(kube.requests)
    reconcile_slo(kube, SETTINGS, current(kube))
    after = current(kube)["status"]
    assert after["live"] == before["live"]
    assert (
        conditions(current(kube))["Loaded"]
        == {c["type"]: c for c in before["conditions"]}["Loaded"]
    )
    assert [r for r in kube.requests[writes:] if r.startswith("status")] == []


def test_an_unreachable_prometheus_makes_loaded_unknown_and_drops_the_numbers(
    kube: FakeKube,
) -> None:
    applied_slo(kube)
    refreshed(kube, snapshot())
    body = refreshed(kube, Snapshot(source=SOURCE, error=f"{SOURCE}: no answer within 10 s"))
    found = conditions(body)
    assert (found["Loaded"]["status"], found["Loaded"]["reason"]) == (
        "Unknown",
        "PrometheusUnreachable",
    )
    assert found["Loaded"]["message"] == f"{SOURCE}: no answer within 10 s"
    assert (found["DataPresent"]["status"], found["DataPresent"]["reason"]) == (
        "Unknown",
        "RulesNotLoaded",
    )
    assert "live" not in body["status"]


def test_an_sli_over_a_metric_that_does_not_exist_is_not_data_present(kube: FakeKube) -> None:
    applied_slo(kube)
    body = refreshed(kube, snapshot(series={}))
    present = conditions(body)["DataPresent"]
    assert (present["status"], present["reason"]) == ("False", "NoSeries")
    assert 'http_requests_total{job="api"}' in present["message"]
    assert "live" not in body["status"]


def test_rules_not_loaded_or_failing_say_so(kube: FakeKube) -> None:
    applied_slo(kube)
    loaded = conditions(refreshed(kube, snapshot(groups=())))["Loaded"]
    assert (loaded["status"], loaded["reason"]) == ("False", "NotLoaded")
    assert "rule group pulse-slo-api of PrometheusRule/api-slo" in loaded["message"]
    failing = RuleGroup(RULE_FILE, "pulse-slo-api", 30, ("SLOErrorBudgetBurn: bad",), True)
    loaded = conditions(refreshed(kube, snapshot(groups=(failing,))))["Loaded"]
    assert (loaded["status"], loaded["reason"]) == ("False", "RuleErrors")
    assert loaded["message"].endswith("SLOErrorBudgetBurn: bad")


def test_a_group_not_yet_evaluated_is_loaded_but_its_data_not_yet_known(kube: FakeKube) -> None:
    applied_slo(kube)
    waiting = RuleGroup(RULE_FILE, "pulse-slo-api", 30, (), evaluated=False)
    found = conditions(refreshed(kube, snapshot(groups=(waiting,))))
    assert found["Loaded"]["message"].endswith(", not evaluated yet")
    assert (found["DataPresent"]["status"], found["DataPresent"]["reason"]) == (
        "Unknown",
        "NotEvaluatedYet",
    )


def test_only_the_files_prometheus_operator_names_for_this_rule_count() -> None:
    rule = {
        "metadata": {"namespace": "a", "name": "b-c"},
        "spec": {"groups": [{"name": "g", "rules": []}]},
    }
    named = [
        f"/r/a-b-c-{UID}.yaml",  # this rule
        f"/r/a-b-c-d-{UID}.yaml",  # rule b-c-d
        "/r/a-b-c-copy.yaml",  # not a uid
        f"/r/other-{UID}.yaml",
    ]
    groups = [RuleGroup(file, "g", 1, (), True) for file in named]
    groups.append(RuleGroup(named[0], "another-group", 1, (), True))
    assert [g.file for g in live.rule_groups_of(rule, groups)] == [named[0]]


@pytest.mark.parametrize(
    ("remaining", "burn", "exhausted"),
    [
        (0.75, 1.0, None),
        (0.75, 0.2, None),
        (-0.1, 4.0, None),
        (0.5, 2.0, "2026-12-10T03:00:00Z"),
    ],  # 7.5 days on, to 10 min,
    ids=["burn-1", "slow", "already-spent", "half-left-at-2x"],
)
def test_the_budget_runs_out_only_at_a_burn_above_one(
    remaining: float, burn: float, exhausted: str | None
) -> None:
    spec = SLOSpec.model_validate(yaml.safe_load(EXAMPLE.read_text())["spec"])
    values = {
        "pulse_slo:error_budget_remaining:ratio": remaining,
        "pulse_slo:current_burn_rate:ratio": burn,
    }
    taken = snapshot(series={(NS, "api"): values})
    now = datetime.datetime(2026, 12, 2, 15, 2, tzinfo=datetime.UTC)
    assert live.slo_live("api", NS, spec, taken, now).budget_exhausted_at == exhausted


def test_numbers_prometheus_cannot_compute_are_left_out() -> None:
    spec = SLOSpec.model_validate(yaml.safe_load(EXAMPLE.read_text())["spec"])
    nan = float("nan")
    values = {
        "pulse_slo:sli_error:ratio_rate30d": nan,
        "pulse_slo:sli_error:ratio_rate1h": float("inf"),
    }
    numbers = live.slo_live(
        "api", NS, spec, snapshot(series={(NS, "api"): values}), datetime.datetime.now(datetime.UTC)
    )
    assert numbers.model_dump(exclude_none=True) == {"burn_rates": {}}


def test_a_collector_reports_whether_its_alert_rules_are_loaded(kube: FakeKube) -> None:
    spec = {
        "collector": {"image": "example.com/checkout:1"},
        "sinks": [{"name": "rw", "remoteWrite": {"url": "http://prometheus:9090/api/v1/write"}}],
    }
    reconcile_collector(
        kube, SETTINGS, owner(kube, "MetricsCollector", "checkout", spec), prune=False
    )
    body = current(kube, "MetricsCollector", "checkout")
    group = RuleGroup(
        f"/r/{NS}-checkout-alerts-{UID}.yaml", f"pulse-collector.{NS}.checkout", 9, (), True
    )
    document = collector_live(SETTINGS, body, snapshot(groups=(group,)))
    assert document is not None
    write_live(kube, body, document)
    found = conditions(current(kube, "MetricsCollector", "checkout"))
    assert (found["Loaded"]["status"], found["Loaded"]["reason"]) == ("True", "RulesLoaded")
    assert "DataPresent" not in found


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"PULSE_PROMETHEUS_URL": "prometheus:9090"},
            "PULSE_PROMETHEUS_URL must be an http(s) URL",
        ),
        ({"PULSE_LIVE_STATUS_SECONDS": "0"}, "PULSE_LIVE_STATUS_SECONDS must be a positive number"),
        ({"PULSE_PROMETHEUS_TIMEOUT_SECONDS": "soon"}, "not 'soon'"),
        ({"PULSE_PROMETHEUS_MAX_BYTES": "inf"}, "PULSE_PROMETHEUS_MAX_BYTES must be a positive"),
    ],
)
def test_a_bad_live_status_setting_is_refused_at_start(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        OperatorSettings.from_env(env)


def test_live_status_is_off_unless_a_prometheus_is_named() -> None:
    assert OperatorSettings.from_env({}).prometheus_url == ""
    named = OperatorSettings.from_env(
        {"PULSE_PROMETHEUS_URL": "http://p:9090/", "PULSE_LIVE_STATUS_SECONDS": "60"}
    )
    assert (named.prometheus_url, named.live_status_seconds) == ("http://p:9090", 60.0)
