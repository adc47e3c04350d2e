"""Rendering an SLO into PrometheusRule groups: golden files for every example, and the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from tests.support import assert_matches_golden

from pulse_operator.api import slo
from pulse_operator.slo import rules

RUNBOOKS = "https://runbooks.example.com/pulse"
"""The operator's runbook base URL in these tests."""

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples" / "slos").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
CONTRACT_LABELS = {"severity", "slo", "service", "long_window", "short_window"}


def load(path: Path) -> tuple[str, str, slo.SLOSpec]:
    document = yaml.safe_load(path.read_text())
    metadata = document["metadata"]
    spec = slo.SLOSpec.model_validate(document["spec"])
    return metadata["name"], metadata.get("namespace", "default"), spec


def render(spec: dict[str, Any] | slo.SLOSpec, name: str = "api") -> list[dict[str, Any]]:
    validated = spec if isinstance(spec, slo.SLOSpec) else slo.SLOSpec.model_validate(spec)
    groups = rules.render_slo_rules(name, "shop", validated, RUNBOOKS)["groups"]
    assert len(groups) == 1
    rendered: list[dict[str, Any]] = groups[0]["rules"]
    return rendered


def ratio_spec(**changes: Any) -> dict[str, Any]:
    return {
        "service": "api",
        "objective": 99.9,
        "sli": {
            "ratio": {
                "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
                "totalQuery": "sum(rate(http_requests_total[{{.window}}]))",
            }
        },
        **changes,
    }


def test_there_are_six_examples_with_a_30_day_ratio_and_a_7_day_slo() -> None:
    specs = [load(path)[2] for path in EXAMPLES]
    assert len(specs) == 6
    assert any(spec.window == "30d" and spec.sli.kind == "ratio" for spec in specs)
    assert any(spec.window == "7d" for spec in specs)
    assert {spec.sli.kind for spec in specs} == set(slo.SLI_KINDS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_renders_as_its_golden_file(path: Path) -> None:
    rendered = yaml.safe_dump(
        rules.render_slo_rules(*load(path), RUNBOOKS),
        sort_keys=False,
        width=1000,
        allow_unicode=True,
    )
    assert_matches_golden(rendered, GOLDEN / f"{path.stem}.yaml")


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_generated_expression_parses(path: Path) -> None:
    for rule in rules.render_slo_rules(*load(path), RUNBOOKS)["groups"][0]["rules"]:
        promql_parser.parse(rule["expr"])


def test_every_series_and_alert_is_labelled_with_the_slo_service_and_namespace() -> None:
    for rule in render(ratio_spec()):
        if "record" in rule:
            assert rule["labels"] == {"namespace": "shop", "service": "api", "slo": "api"}
        else:
            assert 'namespace="shop",slo="api"' in rule["expr"]


def test_a_30_day_ratio_slo_has_10_sli_rules_4_budget_rules_and_4_alerts() -> None:
    recorded = [rule["record"] for rule in render(ratio_spec()) if "record" in rule]
    assert recorded == [
        "pulse_slo:sli_error_events:rate5m",
        "pulse_slo:sli_total_events:rate5m",
        *(
            f"pulse_slo:sli_error:ratio_rate{w}"
            for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
        ),
        "pulse_slo:objective:ratio",
        "pulse_slo:error_budget:ratio",
        "pulse_slo:current_burn_rate:ratio",
        "pulse_slo:error_budget_remaining:ratio",
    ]
    assert sum("alert" in rule for rule in render(ratio_spec())) == 4


def test_a_time_based_slo_records_one_base_series_instead_of_two() -> None:
    spec = ratio_spec(sli={"availability": {"query": 'up{job="api"}'}})
    recorded = [rule["record"] for rule in render(spec) if "record" in rule]
    assert recorded[0] == "pulse_slo:sli_error:ratio"
    assert len(recorded) == 13


def test_the_four_alerts_follow_the_alerting_contract() -> None:
    alerts = [rule for rule in render(ratio_spec()) if "alert" in rule]
    assert {rule["alert"] for rule in alerts} == {"SLOErrorBudgetBurn"}
    assert [
        (r["labels"]["severity"], r["labels"]["long_window"], r["labels"]["short_window"])
        for r in alerts
    ] == [
        ("critical", "1h", "5m"),
        ("critical", "6h", "30m"),
        ("warning", "1d", "2h"),
        ("warning", "3d", "6h"),
    ]
    assert " / 0.001 > 14.4 and " in alerts[0]["expr"]
    for alert in alerts:
        # slo and service come from the recorded series the expression selects.
        assert CONTRACT_LABELS - {"slo", "service"} <= set(alert["labels"])
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert "{{ with query" in alert["annotations"]["description"]
        assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}/slo-error-budget-burn.md"


def test_alerting_switches_drop_the_pages_or_the_tickets() -> None:
    pages_only = render(ratio_spec(alerting={"ticket": False}))
    assert [r["labels"]["severity"] for r in pages_only if "alert" in r] == ["critical"] * 2
    tickets_only = render(ratio_spec(alerting={"page": False}))
    assert [r["labels"]["severity"] for r in tickets_only if "alert" in r] == ["warning"] * 2
    silent = render(ratio_spec(alerting={"page": False, "ticket": False}))
    assert not any("alert" in rule for rule in silent)


def test_alert_labels_are_added_and_annotations_replace_pulses() -> None:
    spec = ratio_spec(
        alerting={"labels": {"team": "payments"}, "annotations": {"runbook_url": "https://x"}}
    )
    alert = next(rule for rule in render(spec) if "alert" in rule)
    assert alert["labels"]["team"] == "payments"
    assert alert["annotations"]["runbook_url"] == "https://x"


def test_a_missing_error_series_counts_as_no_errors() -> None:
    base = render(ratio_spec())[0]
    assert base["expr"].endswith(" or vector(0)")


def test_good_events_are_subtracted_from_all_events() -> None:
    spec = ratio_spec(
        sli={"ratio": {"goodQuery": "rate(ok[{{.window}}])", "totalQuery": "rate(t[{{.window}}])"}}
    )
    assert render(spec)[0]["expr"] == "sum(rate(t[5m])) - sum(rate(ok[5m]))"


@pytest.mark.parametrize(
    ("threshold", "matcher"), [(0.2, 'le="0.2"'), (1, 'le=~"1(\\\\.0)?"'), (2.5, 'le="2.5"')]
)
def test_a_latency_threshold_picks_its_bucket_however_the_client_wrote_it(
    threshold: float, matcher: str
) -> None:
    spec = ratio_spec(sli={"latency": {"metric": "h", "threshold": threshold, "selector": 'a="b"'}})
    assert f'h_bucket{{{matcher},a="b"}}[5m]' in render(spec)[0]["expr"]


def test_the_window_table_for_the_status_lists_every_pair_and_whether_it_alerts() -> None:
    spec = slo.SLOSpec.model_validate(ratio_spec(window="7d", alerting={"page": False}))
    assert rules.window_table(spec)[0].model_dump(by_alias=True) == {
        "severity": "critical",
        "longWindow": "14m",
        "shortWindow": "5m",
        "burnRateFactor": 14.4,
        "budgetPercent": 2.0,
        "errorRatioThreshold": 0.0144,
        "enabled": False,
    }
    assert [row.long_window for row in rules.window_table(spec)] == [
        "14m",
        "1h24m",
        "5h36m",
        "16h48m",
    ]


def test_an_objective_becomes_exact_constants() -> None:
    recorded = {
        r["record"]: r["expr"] for r in render(ratio_spec(objective=99.95)) if "record" in r
    }
    assert recorded["pulse_slo:objective:ratio"] == "vector(0.9995)"
    assert recorded["pulse_slo:error_budget:ratio"] == "vector(0.0005)"


@pytest.mark.parametrize(
    ("row", "changes", "count"),
    [
        ("30d, event SLI (ratio, latency)", {}, 18),
        (
            "30d, time SLI (availability, freshness, saturation)",
            {"sli": {"availability": {"query": "up"}}},
            17,
        ),
        ("90d, event SLI", {"window": "90d"}, 19),
    ],
)
def test_the_docs_give_the_rule_counts_rendering_produces(
    row: str, changes: dict[str, Any], count: int
) -> None:
    assert len(render(ratio_spec(**changes))) == count
    assert f"| {row} | {count}" in (REPO / "docs" / "slo.md").read_text()
