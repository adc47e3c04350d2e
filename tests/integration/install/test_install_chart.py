"""The chart installed with Helm's own SDK into a real control plane, and the operator,
holding nothing but a token of the chart's ServiceAccount, reconciling the examples."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pulse_chart
import pytest
from install_testing import (
    REPO,
    Api,
    Installer,
    OperatorRun,
    Release,
    chart_container,
    load_yaml,
    release_operator,
    unique,
)
from pulse_devcluster.cluster import LocalCluster
from tests.support import eventually

EXAMPLES = [
    REPO / "examples" / "collectors" / "checkout.yaml",
    REPO / "examples" / "collectors" / "minimal.yaml",
    REPO / "examples" / "slos" / "checkout-availability.yaml",
    REPO / "examples" / "slos" / "api-error-rate.yaml",
]
OPERATOR_USER_AGENTS = ("pulse-operator/", "kopf/")


@pytest.fixture(scope="module")
def operator(
    install_cluster: LocalCluster, chart_release: Release, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorRun]:
    with release_operator(
        install_cluster, chart_release, tmp_path_factory.mktemp("operator")
    ) as run:
        yield run


def test_helm_installs_the_operator_and_its_pod_passes_restricted_admission(
    api: Api, chart_release: Release
) -> None:
    assert chart_release.info["status"] == "deployed"
    assert f"kubectl -n {chart_release.namespace} rollout status" in chart_release.info["notes"]
    deployment = chart_release.deployment()
    assert deployment["status"].get("availableReplicas") == 1
    pods = api.list("Pod", chart_release.namespace)
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    account = api.get("ServiceAccount", chart_release.namespace, chart_release.operator_name)
    assert account is not None
    assert account["automountServiceAccountToken"] is False
    binding = api.get("ClusterRoleBinding", None, chart_release.operator_name)
    assert binding is not None
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": chart_release.operator_name,
            "namespace": chart_release.namespace,
        }
    ]


def test_helm_installs_the_crds_from_the_charts_crds_folder(
    api: Api, chart_release: Release
) -> None:
    served = {
        crd["metadata"]["name"]
        for crd in api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")[
            "items"
        ]
    }
    in_chart = {d.name for d in pulse_chart.crds()}
    assert in_chart <= served


def _apply_examples(api: Api, namespace: str) -> list[tuple[str, str]]:
    """Applies the examples into the namespace; returns (kind, name) of the Pulse objects."""
    applied = []
    objects = [obj for example in EXAMPLES for obj in load_yaml(example)]
    # Secrets first: a collector whose Secret is missing waits 30 s before it looks again.
    for obj in sorted(objects, key=lambda obj: obj["kind"] != "Secret"):
        obj["metadata"]["namespace"] = namespace
        api.apply(obj)
        if obj["kind"] in {"MetricsCollector", "SLO"}:
            applied.append((obj["kind"], obj["metadata"]["name"]))
    return applied


def _is_ready(api: Api, kind: str, namespace: str, name: str) -> bool:
    return api.condition(kind, namespace, name, "Ready") == "True"


def test_the_operator_with_the_charts_token_reconciles_the_examples(
    install_cluster: LocalCluster, api: Api, operator: OperatorRun, test_namespace: str
) -> None:
    applied = _apply_examples(api, test_namespace)
    for kind, name in applied:
        eventually(
            functools.partial(_is_ready, api, kind, test_namespace, name),
            timeout=90,
            what=f"{kind}/{name} to be Ready",
        )
    # The collectors' pods ran in a namespace that enforces the restricted standard.
    for deployment in ("checkout", "inventory"):
        found = api.get("Deployment", test_namespace, deployment)
        assert found is not None
        assert found["status"]["availableReplicas"] == found["spec"]["replicas"]
    for kind, name in [
        ("Service", "checkout"),
        ("ConfigMap", "checkout-sidecar"),
        ("ServiceMonitor", "checkout"),
        ("PodMonitor", "inventory"),
        ("PrometheusRule", "checkout-alerts"),
        ("PrometheusRule", "checkout-availability-slo"),
    ]:
        assert api.get(kind, test_namespace, name) is not None, f"{kind}/{name}"

    # Every write the operator made came from the chart's ServiceAccount, none from the
    # admin whose kubeconfig the rest of the suite uses.
    writes = [
        event
        for event in install_cluster.writes_by(OPERATOR_USER_AGENTS)
        if event.get("objectRef", {}).get("namespace") == test_namespace
    ]
    assert writes, "the audit log shows no write by the operator"
    assert {event["user"]["username"] for event in writes} == {operator.user}


def test_the_operator_is_refused_nothing_but_kopfs_optional_crd_watch(
    api: Api, operator: OperatorRun, test_namespace: str
) -> None:
    """The chart grants everything the operator does; kopf's watch of all CRDs (to notice
    ones installed later) is deliberately not granted and kopf carries on without it."""
    _apply_examples(api, test_namespace)
    for kind, name in [("MetricsCollector", "inventory"), ("SLO", "api-error-rate")]:
        eventually(
            functools.partial(api.condition, kind, test_namespace, name, "Ready"),
            timeout=60,
            what=f"{kind}/{name} to have a status",
        )
    refused = [m for m in operator.rbac_refusals() if "customresourcedefinitions" not in m]
    assert refused == []


def test_helm_upgrade_and_uninstall(installer: Installer, api: Api) -> None:
    team_a, team_b = unique("team-a"), unique("team-b")
    for namespace in (team_a, team_b):
        api.create_namespace(namespace)
    release = installer.install({"watchNamespaces": [team_a]}, prefix="pulse-upgrade")
    assert api.get("Role", team_a, release.operator_name) is not None
    assert api.get("Role", team_b, release.operator_name) is None
    assert api.get("ClusterRole", None, release.operator_name) is None
    with helm.Config(
        kubeconfig_path=str(installer.cluster.kubeconfig), namespace=release.namespace
    ) as cfg:
        upgraded = cfg.upgrade(
            str(pulse_chart.CHART_DIR),
            release.name,
            {"watchNamespaces": [team_a, team_b], "verbose": True},
            namespace=release.namespace,
            wait="watcher",
            timeout=120,
        )
    assert upgraded["revision"] == 2
    args = chart_container(release.deployment())["args"]
    assert f"--namespace={team_b}" in args
    assert "--verbose" in args
    assert api.get("Role", team_b, release.operator_name) is not None

    installer.uninstall(release)
    for kind in ("Role", "RoleBinding"):
        for namespace in (team_a, team_b):
            assert api.get(kind, namespace, release.operator_name) is None
    assert api.get("ServiceAccount", release.namespace, release.operator_name) is None
    # CRDs stay: Helm never deletes what a chart's crds/ folder installed (nor the
    # resources stored in them).
    crds = api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert "metricscollectors.pulse.dev" in {crd["metadata"]["name"] for crd in crds["items"]}


def test_the_static_manifest_installs_with_server_side_apply(
    install_cluster: LocalCluster, api: Api, tmp_path: Path
) -> None:
    for attempt in ("install", "upgrade"):  # the second apply changes nothing and fails not
        result = install_cluster.kubectl(
            "apply", "--server-side", "-f", str(pulse_chart.INSTALL_MANIFEST), check=False
        )
        assert result.returncode == 0, f"{attempt}: {result.stderr}"
    deployment = eventually(
        lambda: (
            (api.get("Deployment", pulse_chart.NAMESPACE, "pulse-operator") or {})
            .get("status", {})
            .get("availableReplicas")
        ),
        timeout=60,
        what="the static manifest's operator to be available",
    )
    assert deployment == 1
