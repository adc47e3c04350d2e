"""Operator-wide selector labels: set once, on every rule and monitor of both kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pulse_operator.api.objects import Owner
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.slo import parse_and_render_slo
from pulse_operator.settings import OperatorSettings, SettingsError, parse_selector_labels

EXAMPLES = Path(__file__).parents[3] / "examples"
KPS = OperatorSettings(selector_labels={"release": "kube-prometheus-stack", "team": "web"})


def _spec(path: Path) -> dict[str, object]:
    document = next(d for d in yaml.safe_load_all(path.read_text()) if d["kind"] != "Secret")
    return dict(document["spec"])


def _labels(children: list[dict[str, object]], kind: str) -> dict[str, str]:
    (child,) = [c for c in children if c["kind"] == kind]
    metadata = child["metadata"]
    assert isinstance(metadata, dict)
    return dict(metadata["labels"])


def test_every_rule_and_monitor_of_both_kinds_carries_them_under_the_resources_own() -> None:
    owner = Owner("MetricsCollector", "checkout", "shop", "uid-1")
    spec = _spec(EXAMPLES / "collectors" / "checkout.yaml")
    _, children = parse_and_render_collector(owner, spec, KPS)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        labels = _labels(children, kind)
        assert labels["team"] == "web"
        # the example sets release itself; the operator adds what it lacks
        assert labels["release"] == "kube-prometheus-stack"
    assert "team" not in _labels(children, "Deployment")  # only what a Prometheus selects

    slo_owner = Owner("SLO", "api", "shop", "uid-2")
    slo_spec = _spec(EXAMPLES / "slos" / "automation-success.yaml")
    _, rules = parse_and_render_slo(slo_owner, slo_spec, KPS)
    labels = _labels(rules, "PrometheusRule")
    assert (labels["release"], labels["team"], labels["prometheus"]) == (
        "kube-prometheus-stack", "web", "main",
    )  # fmt: skip


def test_the_resources_own_label_wins() -> None:
    owner = Owner("SLO", "api", "shop", "uid-2")
    spec = {
        **_spec(EXAMPLES / "slos" / "automation-success.yaml"),
        "selectorLabels": {"team": "db"},
    }
    _, rules = parse_and_render_slo(owner, spec, KPS)
    assert _labels(rules, "PrometheusRule")["team"] == "db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", {}), ("release=kps", {"release": "kps"}), (" a=1 , b=2 ,", {"a": "1", "b": "2"})],
)
def test_the_variable_is_key_value_pairs(text: str, expected: dict[str, str]) -> None:
    assert parse_selector_labels(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("release", "'release' is not key=value"),
        ("app.kubernetes.io/name=x", "app.kubernetes.io/"),
        ("bad key=x", "PULSE_SELECTOR_LABELS"),
    ],
)
def test_a_bad_variable_is_refused_at_start_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says.replace(".", r"\.")):
        OperatorSettings.from_env({"PULSE_SELECTOR_LABELS": text})
