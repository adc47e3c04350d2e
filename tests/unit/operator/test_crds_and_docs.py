"""One source of truth: the committed CRDs are what the models generate, every field is
described, and every generated alert links to a runbook that exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pulse_operator import apidocs, crdgen
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import Owner
from pulse_operator.api.registry import ALL_CRDS
from pulse_operator.render.collector import render_collector
from pulse_operator.settings import OperatorSettings

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("crd", ALL_CRDS, ids=lambda crd: crd.kind)
def test_the_committed_crd_is_what_the_models_generate(crd: crdgen.CrdSpec) -> None:
    committed = (REPO / "crds" / crdgen.crd_file_name(crd)).read_text()
    assert committed == crdgen.dump(crdgen.render_crd(crd)), (
        "crds/ is stale: run `.venv/bin/python -m pulse_operator.crdgen`"
    )


def _properties(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, child in schema.get("properties", {}).items():
        found.append((f"{path}.{name}", child))
        found.extend(_properties(child, f"{path}.{name}"))
    if "items" in schema:
        found.extend(_properties(schema["items"], f"{path}[]"))
    return found


@pytest.mark.parametrize("crd", ALL_CRDS, ids=lambda crd: crd.kind)
def test_every_field_has_a_description_for_kubectl_explain(crd: crdgen.CrdSpec) -> None:
    schema = crdgen.render_crd(crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    undescribed = [
        path
        for path, child in _properties(schema["properties"]["spec"], "spec")
        if not child.get("description")
    ]
    assert undescribed == []


def test_the_crd_names_follow_the_contract() -> None:
    names = {crd.kind: crdgen.render_crd(crd)["spec"]["names"] for crd in ALL_CRDS}
    assert names["MetricsCollector"]["shortNames"] == ["mc"]
    assert names["MetricsCollector"]["plural"] == "metricscollectors"
    assert names["SLO"]["shortNames"] == ["slo"]
    assert names["SLO"]["plural"] == "slos"
    assert all(n["categories"] == ["pulse"] for n in names.values())


def test_every_collector_alert_has_a_runbook_that_exists() -> None:
    settings = OperatorSettings()
    owner = Owner("MetricsCollector", "web", "team-a", "uid")
    spec = MetricsCollectorSpec.model_validate({"collector": {"image": "app:1"}})
    rule = render_collector(owner, spec, settings)[-1]
    alerts = rule["spec"]["groups"][0]["rules"]
    assert {a["alert"] for a in alerts} == {
        "CollectorHighErrorRate",
        "CollectorDown",
        "CollectorCircuitOpen",
        "CollectorSamplesDropped",
        "CollectorSpoolFilling",
    }
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(settings.runbook_base_url + "/")
        runbook = REPO / "docs" / "runbooks" / url.rsplit("/", 1)[1]
        assert runbook.is_file(), runbook
        assert runbook.read_text().startswith(f"# {alert['alert']}")
        assert {"severity", "namespace", "collector"} <= alert["labels"].keys()
        assert {"summary", "description"} <= alert["annotations"].keys()


def test_the_examples_are_valid_manifests() -> None:
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        assert list(yaml.safe_load_all(path.read_text())), path


def test_the_api_reference_is_what_the_models_generate() -> None:
    committed = (REPO / "docs" / "api-reference.md").read_text()
    assert committed == apidocs.render(ALL_CRDS), (
        "docs/api-reference.md is stale: run `.venv/bin/python -m pulse_operator.apidocs`"
    )
