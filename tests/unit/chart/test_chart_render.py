"""The chart rendered by Helm's own SDK: golden files for the default values and every
important switch, and the properties an auditor checks on every variant.

Regenerate the golden files after an intended change with PULSE_UPDATE_GOLDEN=1 and
review the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulse_chart
import pytest
from tests.support import assert_matches_golden
from tests.unit.chart.chart_variants import DIGEST, VARIANTS

from pulse_operator.settings import OperatorSettings

GOLDEN = Path(__file__).parent / "golden"
STANDARD_LABELS = {
    "helm.sh/chart": "pulse-0.1.0",
    "app.kubernetes.io/name": "pulse",
    "app.kubernetes.io/instance": "pulse",
    "app.kubernetes.io/version": "0.1.0",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/part-of": "pulse",
}


def _render(variant: str) -> list[pulse_chart.Document]:
    return pulse_chart.render(VARIANTS[variant])


def _one(documents: list[pulse_chart.Document], kind: str) -> dict[str, Any]:
    found = [d.obj for d in documents if d.kind == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _container(documents: list[pulse_chart.Document]) -> dict[str, Any]:
    containers = _one(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    return dict(containers[0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_rendering_a_variant_gives_its_golden_file(variant: str) -> None:
    rendered = pulse_chart.stream(_render(variant))
    assert_matches_golden(rendered, GOLDEN / f"{variant}.yaml")


def test_every_golden_file_belongs_to_a_variant() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == set(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_carries_the_standard_labels(variant: str) -> None:
    for document in _render(variant):
        labels = document.obj["metadata"].get("labels", {})
        assert STANDARD_LABELS.items() <= labels.items(), f"{document.kind}/{document.name}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_namespaced_objects_name_the_release_namespace_or_a_watched_one(variant: str) -> None:
    allowed = {pulse_chart.NAMESPACE, *VARIANTS[variant].get("watchNamespaces", [])}
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"}
    for document in _render(variant):
        namespace = document.obj["metadata"].get("namespace")
        if document.kind in cluster_scoped:
            assert namespace is None
        else:
            assert namespace in allowed, f"{document.kind}/{document.name}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_operator_pod_meets_the_restricted_pod_security_standard(variant: str) -> None:
    pod = _one(_render(variant), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    context = _container(_render(variant))["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_the_probes_ask_the_operators_health_endpoint_on_the_port_it_serves() -> None:
    container = _container(_render("default"))
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["ports"][0] == {"name": "health", "containerPort": 8080, "protocol": "TCP"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_the_container_has_requests_and_limits() -> None:
    resources = _container(_render("default"))["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_the_api_token_is_short_lived_and_mounted_where_the_client_looks_for_it() -> None:
    documents = _render("default")
    pod = _one(documents, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "api-token"]
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["path"] == "token"
    assert token["expirationSeconds"] <= 3607
    (mount,) = [m for m in _container(documents)["volumeMounts"] if m["name"] == "api-token"]
    assert mount == {
        "name": "api-token",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }


def test_the_operator_is_told_its_sidecar_image_and_runbooks() -> None:
    env = {e["name"]: e.get("value") for e in _container(_render("default"))["env"]}
    assert env["PULSE_SIDECAR_IMAGE"] == "pulse-sidecar:0.1.0"
    assert env["PULSE_RUNBOOK_BASE_URL"].startswith("https://")


def test_selector_labels_reach_the_operator_as_one_variable_it_parses() -> None:
    env = {e["name"]: e.get("value") for e in _container(_render("metrics"))["env"]}
    assert env["PULSE_SELECTOR_LABELS"] == "release=kube-prometheus-stack"
    parsed = OperatorSettings.from_env(env).selector_labels
    assert parsed == {"release": "kube-prometheus-stack"}
    default = {e["name"] for e in _container(_render("default"))["env"]}
    assert "PULSE_SELECTOR_LABELS" not in default


def test_the_prometheus_to_ask_reaches_the_operator_only_when_set() -> None:
    env = {e["name"]: e.get("value") for e in _container(_render("metrics"))["env"]}
    settings = OperatorSettings.from_env(env)
    assert settings.prometheus_url == "http://prometheus-operated.monitoring:9090"
    assert settings.live_status_seconds == 120
    default = {e["name"] for e in _container(_render("default"))["env"]}
    assert not default & {"PULSE_PROMETHEUS_URL", "PULSE_LIVE_STATUS_SECONDS"}


def test_a_digest_pins_both_images() -> None:
    container = _container(_render("pinned-images"))
    assert container["image"] == f"acme/pulse-operator:0.1.0@{DIGEST}"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PULSE_SIDECAR_IMAGE"] == f"acme/pulse-sidecar:0.1.0@{DIGEST}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_image_names_a_registry_host(variant: str) -> None:
    container = _container(_render(variant))
    env = {e["name"]: e.get("value") for e in container["env"]}
    for image in (container["image"], env["PULSE_SIDECAR_IMAGE"]):
        first = image.split("/")[0]
        assert "/" not in image or not ("." in first or ":" in first), image


def test_watched_namespaces_become_arguments_and_roles_without_cluster_wide_rbac() -> None:
    documents = _render("namespaced")
    args = _container(documents)["args"]
    assert [a for a in args if a.startswith("--namespace=")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]
    kinds = {d.kind for d in documents}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    roles = {d.obj["metadata"]["namespace"] for d in documents if d.kind == "Role"}
    bindings = {d.obj["metadata"]["namespace"] for d in documents if d.kind == "RoleBinding"}
    assert roles == bindings == {"team-a", "team-b"}


CLUSTER_WIDE_ONLY = {
    ("monitoring.coreos.com", "prometheuses", "list"),
    ("monitoring.coreos.com", "prometheuses", "watch"),
    ("monitoring.coreos.com", "thanosrulers", "list"),
    ("monitoring.coreos.com", "thanosrulers", "watch"),
    ("", "namespaces", "get"),
}
"""What only a cluster-wide install grants: the Selected condition's reads, which a Role
in a namespace cannot give (a scoped operator reports Selected as Unknown)."""


def test_roles_in_watched_namespaces_grant_what_the_cluster_role_does_but_selection() -> None:
    cluster_role = _one(_render("default"), "ClusterRole")
    cluster_wide = _granted(cluster_role["rules"])
    assert cluster_wide >= CLUSTER_WIDE_ONLY
    for document in _render("namespaced"):
        if document.kind == "Role":
            assert _granted(document.obj["rules"]) == cluster_wide - CLUSTER_WIDE_ONLY


def _granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_rule_uses_wildcards_or_grants_escalation(variant: str) -> None:
    for document in _render(variant):
        if document.kind not in {"ClusterRole", "Role"}:
            continue
        for group, resource, verb in _granted(document.obj["rules"]):
            assert "*" not in (group, resource, verb)
            assert verb not in {"escalate", "bind", "impersonate", "approve"}
            # pods are listed (read-only) to say why a collector's pods are not Ready
            assert resource != "pods" or verb == "list", (resource, verb)
            assert resource not in {
                "pods/exec",
                "serviceaccounts/token",
                "roles",
                "rolebindings",
                "clusterroles",
                "clusterrolebindings",
                "customresourcedefinitions",
                "mutatingwebhookconfigurations",
                "validatingwebhookconfigurations",
            }


def test_secrets_can_only_be_read_by_name() -> None:
    granted = _granted(_one(_render("default"), "ClusterRole")["rules"])
    assert {verb for group, resource, verb in granted if resource == "secrets"} == {"get"}


def test_peering_adds_the_peering_object_its_rules_and_a_disruption_budget() -> None:
    documents = _render("high-availability")
    assert _one(documents, "Deployment")["spec"]["replicas"] == 2
    assert "--peering=pulse" in _container(documents)["args"]
    assert _one(documents, "ClusterKopfPeering")["metadata"]["name"] == "pulse"
    granted = _granted(_one(documents, "ClusterRole")["rules"])
    assert {v for g, r, v in granted if r == "clusterkopfpeerings"} == {"list", "watch", "patch"}
    budget = _one(documents, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert _one(documents, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"


def test_namespaced_peering_uses_a_kopf_peering_per_watched_namespace() -> None:
    documents = _render("high-availability-namespaced")
    peerings = [d.obj for d in documents if d.kind == "KopfPeering"]
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in peerings] == [
        ("team-a", "pulse-peers")
    ]
    (role,) = [d.obj for d in documents if d.kind == "Role"]
    assert ("kopf.dev", "kopfpeerings", "watch") in _granted(role["rules"])


def test_a_single_unpeered_replica_is_replaced_not_rolled() -> None:
    documents = _render("default")
    assert _one(documents, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    assert "PodDisruptionBudget" not in {d.kind for d in documents}
    assert not [a for a in _container(documents)["args"] if a.startswith("--peering")]


def test_metrics_add_a_port_a_service_a_service_monitor_and_open_the_network_policy() -> None:
    documents = _render("metrics")
    container = _container(documents)
    assert "--metrics=http://0.0.0.0:9090/metrics" in container["args"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    service = _one(documents, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    monitor = _one(documents, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    (ingress,) = _one(documents, "NetworkPolicy")["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"] == VARIANTS["metrics"]["networkPolicy"]["metricsFrom"]


def test_without_metrics_the_network_policy_admits_nothing() -> None:
    policy = _one(_render("default"), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == []
    deployment = _one(_render("default"), "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["podSelector"]["matchLabels"] == selector


def test_notes_tell_the_user_what_to_apply_next() -> None:
    notes = pulse_chart.notes({"watchNamespaces": ["team-a"]})
    assert "kubectl apply -n team-a" in notes
    assert "kind: MetricsCollector" in notes
    assert "rollout status deployment/pulse-operator" in notes
