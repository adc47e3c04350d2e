"""values.yaml is documented line by line, values.schema.json covers exactly those values,
and a wrong value fails at install time with a message that names it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import helm_python as helm
import pulse_chart
import pytest
import yaml

VALUES = pulse_chart.CHART_DIR / "values.yaml"
SCHEMA = json.loads((pulse_chart.CHART_DIR / "values.schema.json").read_text())
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):")


def test_every_value_has_a_comment_right_above_it() -> None:
    lines = VALUES.read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        above = lines[number - 1].strip() if number else ""
        if not above.startswith("#"):
            undocumented.append(f"line {number + 1}: {match['key']}")
    assert undocumented == []


def _paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        found.add(path)
        if isinstance(value, dict) and value:
            found |= _paths(value, f"{path}.")
    return found


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, child in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        found.add(path)
        found |= _schema_paths(child, f"{path}.")
    return found


def test_the_schema_describes_exactly_the_values_in_values_yaml() -> None:
    values = yaml.safe_load(VALUES.read_text())
    # "global" is Helm's own: every chart receives it.
    assert _schema_paths(SCHEMA) - {"global"} == _paths(values)


def test_every_schema_property_says_what_it_is() -> None:
    def walk(schema: dict[str, Any], path: str) -> list[str]:
        missing = [] if "description" in schema or not path else [path]
        for key, child in schema.get("properties", {}).items():
            missing += walk(child, f"{path}.{key}".lstrip("."))
        return missing

    assert walk(SCHEMA, "") == []


def test_the_schema_refuses_unknown_keys_at_every_level() -> None:
    def open_objects(schema: dict[str, Any], path: str) -> list[str]:
        found = []
        if "properties" in schema and schema.get("additionalProperties") is not False:
            found.append(path or "(top)")
        for key, child in schema.get("properties", {}).items():
            found += open_objects(child, f"{path}.{key}".lstrip("."))
        return found

    assert open_objects(SCHEMA, "") == []


def test_the_default_values_pass_the_schema() -> None:
    with helm.Chart.load(pulse_chart.CHART_DIR) as chart:
        chart.validate_schema({})


@dataclass(frozen=True)
class Rejected:
    """Values that must fail, and what the message must name."""

    case: str
    values: dict[str, Any]
    message: str


REJECTED = [
    Rejected("a replica count written as a word", {"replicaCount": "two"}, "/replicaCount"),
    Rejected(
        "two replicas without peering would both reconcile",
        {"replicaCount": 2},
        "/peering/enabled",
    ),
    Rejected("no replica at all", {"replicaCount": 0}, "/replicaCount"),
    Rejected("a misspelt top-level key", {"replicas": 2}, "'replicas' not allowed"),
    Rejected("a misspelt key inside image", {"image": {"tags": "1"}}, "'tags' not allowed"),
    Rejected(
        "a watched namespace that is not a DNS label",
        {"watchNamespaces": ["Team_A"]},
        "/watchNamespaces/0",
    ),
    Rejected(
        "the same namespace watched twice",
        {"watchNamespaces": ["team-a", "team-a"]},
        "/watchNamespaces",
    ),
    Rejected("an image tag with a space", {"image": {"tag": "1 0"}}, "/image/tag"),
    Rejected("a digest that is not sha256", {"image": {"digest": "md5:1f"}}, "/image/digest"),
    Rejected(
        "a pull policy Kubernetes does not know",
        {"image": {"pullPolicy": "Sometimes"}},
        "/image/pullPolicy",
    ),
    Rejected("a health port that needs root", {"healthPort": 80}, "/healthPort"),
    Rejected(
        "a runbook URL without a scheme", {"runbookBaseUrl": "wiki/runbooks"}, "/runbookBaseUrl"
    ),
    Rejected(
        "a ServiceMonitor for metrics that are not served",
        {"metrics": {"serviceMonitor": {"enabled": True}}},
        "/metrics/enabled",
    ),
    Rejected(
        "a CPU limit in words",
        {"resources": {"limits": {"cpu": "lots"}}},
        "/resources/limits/cpu",
    ),
    Rejected("verbose as a string", {"verbose": "yes"}, "/verbose"),
    Rejected(
        "a pod label whose value is not a string", {"podLabels": {"tier": 1}}, "/podLabels/tier"
    ),
]


@pytest.mark.parametrize("rejected", REJECTED, ids=lambda r: r.case)
def test_a_wrong_value_fails_with_a_message_naming_it(rejected: Rejected) -> None:
    with (
        helm.Chart.load(pulse_chart.CHART_DIR) as chart,
        pytest.raises(helm.HelmValuesError) as raised,
    ):
        chart.validate_schema(rejected.values)
    assert rejected.message in str(raised.value)


def test_rendering_enforces_the_schema_too() -> None:
    """What `helm install` does: the values are checked before any template runs."""
    with pytest.raises(helm.HelmError, match="/replicaCount"):
        pulse_chart.render({"replicaCount": "two"})
