"""`helm lint --strict` is clean, the chart carries the same CRDs as crds/, and
manifests/install.yaml is what hack/gen-manifests.py makes of the chart today."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pulse_chart
import pytest
import yaml

TOP_LEVEL_CRDS = pulse_chart.REPO_ROOT / "crds"
KOPF_PEERING_CRDS = {"kopf.dev_clusterkopfpeerings.yaml", "kopf.dev_kopfpeerings.yaml"}
WARNING = 2
"""helm lint's severities: 1 info, 2 warning, 3 error."""

LINTED: dict[str, dict[str, Any] | None] = {
    "default": None,
    "namespaced with peering": {
        "watchNamespaces": ["team-a"],
        "replicaCount": 2,
        "peering": {"enabled": True},
    },
    "metrics and ServiceMonitor": {
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}}
    },
}


@pytest.mark.parametrize("values", LINTED.values(), ids=LINTED.keys())
def test_helm_lint_strict_finds_no_warnings_or_errors(values: dict[str, Any] | None) -> None:
    report = helm.lint(pulse_chart.CHART_DIR, values, strict=True, kube_version="v1.36.3")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


def test_helm_lint_reports_values_the_schema_refuses() -> None:
    """The check above can fail: lint does run the schema and the templates."""
    report = helm.lint(pulse_chart.CHART_DIR, {"replicaCount": "two"}, strict=True)
    assert any("/replicaCount" in m["error"] for m in report["messages"])


def test_the_charts_crds_are_the_top_level_crds_byte_for_byte() -> None:
    top_level = {p.name: p.read_bytes() for p in TOP_LEVEL_CRDS.glob("*.yaml")}
    in_chart = {p.name: p.read_bytes() for p in pulse_chart.CHART_CRDS_DIR.glob("*.yaml")}
    assert top_level, "crds/ is empty"
    assert {name: in_chart.get(name) for name in top_level} == top_level
    # The only addition: kopf's peering CRDs, for replicaCount > 1.
    assert set(in_chart) - set(top_level) == KOPF_PEERING_CRDS


def test_the_kopf_peering_crds_are_the_ones_kopf_uses() -> None:
    for name in KOPF_PEERING_CRDS:
        crd = yaml.safe_load((pulse_chart.CHART_CRDS_DIR / name).read_text())
        assert crd["spec"]["group"] == "kopf.dev"
        assert [v["name"] for v in crd["spec"]["versions"]] == ["v1"]
        status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True


def test_install_yaml_is_current() -> None:
    assert pulse_chart.INSTALL_MANIFEST.read_text() == pulse_chart.install_manifest(), (
        "manifests/install.yaml is stale: run `PYTHONPATH=hack .venv/bin/python "
        "hack/gen-manifests.py`"
    )


def test_install_yaml_holds_the_namespace_the_crds_and_the_chart_in_install_order() -> None:
    documents = [d for d in yaml.safe_load_all(pulse_chart.INSTALL_MANIFEST.read_text()) if d]
    kinds = [d["kind"] for d in documents]
    assert kinds[0] == "Namespace"
    assert documents[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
        "restricted"
    )
    crds = [d for d in documents if d["kind"] == "CustomResourceDefinition"]
    crd_names = {d["metadata"]["name"] for d in crds}
    assert {"metricscollectors.pulse.dev", "slos.pulse.dev"} <= crd_names
    last_crd = max(i for i, kind in enumerate(kinds) if kind == "CustomResourceDefinition")
    assert kinds.index("Deployment") > last_crd
    assert kinds.index("ClusterRoleBinding") < kinds.index("Deployment")
    namespaced = [d for d in documents if d["kind"] in {"Deployment", "ServiceAccount"}]
    assert {d["metadata"]["namespace"] for d in namespaced} == {pulse_chart.NAMESPACE}
