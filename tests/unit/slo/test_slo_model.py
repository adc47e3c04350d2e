"""The SLO spec model: what it accepts, what it rejects, and that each rejection names the field."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest

from pulse_operator import crdgen
from pulse_operator.api import registry, slo

RATIO: dict[str, Any] = {
    "service": "api",
    "objective": 99.9,
    "sli": {
        "ratio": {
            "errorQuery": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            "totalQuery": "sum(rate(http_requests_total[{{ .window }}]))",
        }
    },
}


def with_changes(**paths: Any) -> dict[str, Any]:
    """RATIO with each path (`sli__ratio__goodQuery`) set, or removed when the value is `...`."""
    spec = copy.deepcopy(RATIO)
    for path, value in paths.items():
        *parents, leaf = path.split("__")
        target = spec
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is ...:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return spec


def test_a_minimal_ratio_slo_gets_a_30_day_window_and_both_kinds_of_alert() -> None:
    spec = slo.SLOSpec.model_validate(RATIO)
    assert spec.window == "30d"
    assert spec.window_days == 30
    assert spec.alerting.page
    assert spec.alerting.ticket
    assert spec.sli.kind == "ratio"
    assert spec.sli.selected is spec.sli.ratio


def test_fields_are_camel_case_in_yaml_and_snake_case_in_python() -> None:
    spec = slo.SLOSpec.model_validate(with_changes(selectorLabels={"prometheus": "main"}))
    assert spec.selector_labels == {"prometheus": "main"}
    dumped = spec.model_dump(by_alias=True, exclude_none=True)
    assert dumped["selectorLabels"] == {"prometheus": "main"}
    assert "errorQuery" in dumped["sli"]["ratio"]
    assert slo.SLOSpec.model_validate(spec.model_dump()) == spec


def test_the_spec_cannot_be_changed_after_validation() -> None:
    spec = slo.SLOSpec.model_validate(RATIO)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.objective = 50


@pytest.mark.parametrize(
    "sli",
    [
        pytest.param(
            {
                "latency": {
                    "metric": "http_request_duration_seconds",
                    "threshold": 0.2,
                    "selector": 'job="checkout"',
                }
            },
            id="latency",
        ),
        pytest.param({"availability": {"query": 'up{job="checkout"}'}}, id="availability"),
        pytest.param(
            {"freshness": {"query": "last_success_timestamp_seconds", "maxLagSeconds": 60}},
            id="freshness",
        ),
        pytest.param(
            {"saturation": {"query": "node_utilization", "ceiling": 0.8}}, id="saturation"
        ),
        pytest.param(
            {"ratio": {"goodQuery": "sum(rate(ok[{{.window}}]))", "totalQuery": "x[{{.window}}]"}},
            id="ratio-from-good-events",
        ),
    ],
)
def test_every_sli_kind_is_accepted_on_its_own(sli: dict[str, Any]) -> None:
    spec = slo.SLOSpec.model_validate(with_changes(sli=sli))
    assert spec.sli.kind == next(iter(sli))


def _cel_messages(node: Any) -> list[str]:
    """Every CEL message anywhere in the SLO CRD's schema."""
    if isinstance(node, dict):
        own = [rule["message"] for rule in node.get("x-kubernetes-validations", [])]
        return own + [m for child in node.values() for m in _cel_messages(child)]
    if isinstance(node, list):
        return [m for child in node for m in _cel_messages(child)]
    return []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sli": {}}, id="exactly one SLI kind"),
        pytest.param({"sli__ratio__errorQuery": ...}, id="bad or good events"),
        pytest.param({"alerting": {"labels": {"slo": "x"}}}, id="reserved labels"),
        pytest.param({"alerting": {"labels": {"team-name": "x"}}}, id="alert label names"),
        pytest.param(
            {"selectorLabels": {"app.kubernetes.io/part-of": "x"}}, id="own selector labels"
        ),
        pytest.param({"selectorLabels": {"-bad": "x"}}, id="selector label keys"),
    ],
)
def test_a_rule_gives_the_same_message_at_admission_and_offline(changes: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        slo.SLOSpec.model_validate(with_changes(**changes))
    offline = raised.value.errors()[0]["msg"].removeprefix("Value error, ")
    assert offline in _cel_messages(crdgen.render_crd(registry.SLO))


def test_the_json_schema_carries_descriptions_and_cel_rules_for_the_crd() -> None:
    schema = slo.SLOSpec.model_json_schema(by_alias=True)
    definitions = schema["$defs"]
    for model in (schema, *definitions.values()):
        for name, prop in model["properties"].items():
            assert prop.get("description"), f"{model['title']}.{name} has no description"
    assert "x-kubernetes-validations" in definitions["SLI"]
    assert "x-kubernetes-validations" in definitions["RatioSLI"]
    assert schema["properties"]["window"]["default"] == "30d"
