"""What the chart's ServiceAccount may and may not do, asked of the API server itself
(`kubectl auth can-i` with the ServiceAccount's own token: SelfSubjectAccessReviews).

Every table mixes what it must be able to do with what it must not, so a broken token
(anonymous, or the admin's) fails the tests instead of passing the refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from install_testing import (
    Api,
    Installer,
    Release,
    can_i,
    service_account_user,
    token_kubeconfig,
    unique,
)
from pulse_devcluster.cluster import LocalCluster


@dataclass(frozen=True)
class Ask:
    """One access question and the answer the chart must give."""

    case: str
    command: str
    """kubectl auth can-i's arguments; upper-case words stand for namespaces the test picks."""
    allowed: bool


@dataclass(frozen=True)
class Identity:
    """A release's ServiceAccount, as a kubeconfig holding only its token."""

    release: Release
    kubeconfig: Path


def _identity(cluster: LocalCluster, release: Release, directory: Path) -> Identity:
    target = directory / f"{release.name}.kubeconfig"
    kubeconfig = token_kubeconfig(cluster, release.namespace, release.operator_name, target)
    return Identity(release, kubeconfig)


@pytest.fixture(scope="module")
def cluster_wide(
    install_cluster: LocalCluster, chart_release: Release, tmp_path_factory: pytest.TempPathFactory
) -> Identity:
    return _identity(install_cluster, chart_release, tmp_path_factory.mktemp("sa"))


@dataclass(frozen=True)
class Scoped:
    identity: Identity
    watched: tuple[str, str]
    other: str


@pytest.fixture(scope="module")
def scoped(
    install_cluster: LocalCluster,
    api: Api,
    installer: Installer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scoped:
    watched = (unique("team-a"), unique("team-b"))
    other = unique("team-c")
    for namespace in (*watched, other):
        api.create_namespace(namespace)
    release = installer.install({"watchNamespaces": list(watched)}, prefix="pulse-scoped")
    identity = _identity(install_cluster, release, tmp_path_factory.mktemp("sa"))
    return Scoped(identity, watched, other)


CLUSTER_WIDE = [
    # what it needs
    Ask("it reads a Secret by name, to check it exists", "get secrets -n NS", True),
    Ask("it applies Deployments", "patch deployments.apps -n NS", True),
    Ask(
        "it watches MetricsCollectors everywhere",
        "watch metricscollectors.pulse.dev -A",
        True,
    ),
    Ask(
        "it writes their status",
        "patch metricscollectors.pulse.dev --subresource=status -n NS",
        True,
    ),
    Ask("it posts Events", "create events -n NS", True),
    # Secrets: no enumeration, no bulk read, no writes
    Ask("it cannot list Secrets in a namespace", "list secrets -n NS", False),
    Ask("it cannot list Secrets cluster-wide", "list secrets -A", False),
    Ask("it cannot watch Secrets", "watch secrets -n NS", False),
    Ask("it cannot create Secrets", "create secrets -n NS", False),
    Ask("it cannot change Secrets", "patch secrets -n NS", False),
    Ask("it cannot delete Secrets", "delete secrets -n NS", False),
    # no way to more power
    Ask("it cannot escalate a ClusterRole", "escalate clusterroles", False),
    Ask("it cannot bind a ClusterRole", "bind clusterroles", False),
    Ask("it cannot create ClusterRoleBindings", "create clusterrolebindings", False),
    Ask("it cannot create RoleBindings", "create rolebindings -n NS", False),
    Ask("it cannot change its own ClusterRole", "patch clusterroles", False),
    Ask("it cannot impersonate users", "impersonate users", False),
    Ask("it cannot impersonate groups", "impersonate groups", False),
    Ask(
        "it cannot impersonate ServiceAccounts",
        "impersonate serviceaccounts -n NS",
        False,
    ),
    Ask(
        "it cannot mint tokens",
        "create serviceaccounts --subresource=token -n NS",
        False,
    ),
    Ask("it cannot run pods of its own", "create pods -n NS", False),
    Ask("it lists pods, to say why a collector's are not Ready", "list pods -n NS", True),
    Ask("it cannot watch pods", "watch pods -n NS", False),
    Ask("it cannot change pods", "patch pods -n NS", False),
    Ask("it cannot exec into pods", "create pods --subresource=exec -n NS", False),
    Ask("it cannot change CRDs", "patch customresourcedefinitions", False),
    Ask("it cannot add admission webhooks", "create mutatingwebhookconfigurations", False),
    Ask(
        "it cannot approve certificates",
        "update certificatesigningrequests --subresource=approval",
        False,
    ),
    Ask("it cannot touch nodes", "patch nodes", False),
    Ask("it cannot delete namespaces", "delete namespaces", False),
    # nothing beyond what server-side apply needs
    Ask("it cannot replace Deployments", "update deployments.apps -n NS", False),
    Ask("it cannot delete Deployments", "delete deployments.apps -n NS", False),
    Ask("it cannot delete ConfigMaps", "delete configmaps -n NS", False),
    Ask(
        "it cannot delete MetricsCollectors",
        "delete metricscollectors.pulse.dev -n NS",
        False,
    ),
]


@pytest.mark.parametrize("ask", CLUSTER_WIDE, ids=lambda ask: ask.case)
def test_cluster_wide_service_account(
    install_cluster: LocalCluster, api: Api, cluster_wide: Identity, ask: Ask
) -> None:
    namespace = unique("anywhere")
    api.create_namespace(namespace)
    try:
        args = [namespace if arg == "NS" else arg for arg in ask.command.split()]
        assert can_i(install_cluster, cluster_wide.kubeconfig, *args) is ask.allowed
    finally:
        api.delete("Namespace", None, namespace)


SCOPED = [
    Ask("in a watched namespace it applies Deployments", "patch deployments.apps -n WATCHED", True),
    Ask("in a watched namespace it reads a Secret by name", "get secrets -n WATCHED", True),
    Ask(
        "in a watched namespace it watches MetricsCollectors",
        "watch metricscollectors.pulse.dev -n WATCHED",
        True,
    ),
    Ask("in another namespace it reads no Secret", "get secrets -n OTHER", False),
    Ask("in another namespace it applies nothing", "patch deployments.apps -n OTHER", False),
    Ask(
        "in another namespace it sees no MetricsCollector",
        "list metricscollectors.pulse.dev -n OTHER",
        False,
    ),
    Ask("in another namespace it posts no Event", "create events -n OTHER", False),
    Ask("in its own namespace it reads no Secret", "get secrets -n RELEASE", False),
    Ask("it lists nothing cluster-wide", "list metricscollectors.pulse.dev -A", False),
    Ask("it watches no Deployment cluster-wide", "watch deployments.apps -A", False),
    Ask("it cannot create RoleBindings where it works", "create rolebindings -n WATCHED", False),
    Ask("it cannot change its Role", "patch roles -n WATCHED", False),
]


@pytest.mark.parametrize("ask", SCOPED, ids=lambda ask: ask.case)
def test_namespace_scoped_service_account(
    install_cluster: LocalCluster, scoped: Scoped, ask: Ask
) -> None:
    for watched in scoped.watched:
        places = {"WATCHED": watched, "OTHER": scoped.other}
        places["RELEASE"] = scoped.identity.release.namespace
        args = [places.get(arg, arg) for arg in ask.command.split()]
        assert can_i(install_cluster, scoped.identity.kubeconfig, *args) is ask.allowed


def test_a_scoped_release_has_no_cluster_wide_binding(api: Api, scoped: Scoped) -> None:
    release = scoped.identity.release
    user = {"kind": "ServiceAccount", "name": release.operator_name, "namespace": release.namespace}
    bound = [b for b in api.list("ClusterRoleBinding") if user in b.get("subjects", [])]
    assert bound == []
    roles = {
        r["metadata"]["namespace"]
        for r in api.list("Role")
        if r["metadata"]["name"] == release.operator_name
    }
    assert roles == set(scoped.watched)


def test_an_attempt_to_grant_itself_cluster_admin_is_refused(
    install_cluster: LocalCluster, cluster_wide: Identity
) -> None:
    release = cluster_wide.release
    user = service_account_user(release.namespace, release.operator_name)
    name = unique("escalation")
    result = install_cluster.kubectl(
        f"--kubeconfig={cluster_wide.kubeconfig}",
        "create",
        "clusterrolebinding",
        name,
        "--clusterrole=cluster-admin",
        f"--serviceaccount={release.namespace}:{release.operator_name}",
        check=False,
    )
    assert result.returncode != 0
    assert "forbidden" in result.stderr
    assert user in result.stderr
