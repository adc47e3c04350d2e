"""Two peered replicas with the chart's peering CRDs, peering object and RBAC: one works,
the other waits, and takes over when the first stops. Each replica runs as the chart's
Deployment runs it (`--peering=<name>` included), with a priority of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from install_testing import (
    Api,
    Installer,
    OperatorRun,
    Release,
    chart_container,
    running_operator,
    service_account_user,
    token_kubeconfig,
    unique,
)
from pulse_devcluster.cluster import LocalCluster
from tests.support import eventually

PAUSED = "Pausing operations in favour of"
RESUMED = "Resuming operations after the pause"


def _collector(namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "pulse.dev/v1alpha1",
        "kind": "MetricsCollector",
        "metadata": {"name": "peered", "namespace": namespace},
        "spec": {"collector": {"image": "peered-app:1"}, "monitor": {"kind": "PodMonitor"}},
    }


def _said(run: OperatorRun, words: str) -> bool:
    return any(words in message for message in run.log_messages())


def _handled_collector(run: OperatorRun, namespace: str) -> bool:
    """Whether kopf logged handling this test's collector (not leftovers elsewhere)."""
    return any(
        record.get("object", {}).get("kind") == "MetricsCollector"
        and record["object"].get("namespace") == namespace
        for record in run.log_records()
    )


@pytest.fixture(params=["cluster-wide", "namespaced"])
def peered_release(
    request: pytest.FixtureRequest, installer: Installer, api: Api
) -> Iterator[tuple[Release, str]]:
    """A release with two peered replicas, and the namespace its operator watches."""
    watched = unique("peered")
    api.create_namespace(watched)
    values: dict[str, object] = {"replicaCount": 2, "peering": {"enabled": True}}
    if request.param == "namespaced":
        values["watchNamespaces"] = [watched]
    release = installer.install(values, prefix="pulse-peered")
    try:
        yield release, watched
    finally:
        installer.uninstall(release)
        api.delete("Namespace", None, watched)


def test_one_replica_works_and_the_other_takes_over(
    install_cluster: LocalCluster, api: Api, peered_release: tuple[Release, str], tmp_path: Path
) -> None:
    release, watched = peered_release
    container = chart_container(release.deployment())
    assert f"--peering={release.name}" in container["args"]
    kubeconfig = token_kubeconfig(
        install_cluster, release.namespace, release.operator_name, tmp_path / "kubeconfig"
    )
    user = service_account_user(release.namespace, release.operator_name)

    def replica(priority: int) -> AbstractContextManager[OperatorRun]:
        return running_operator(
            install_cluster,
            kubeconfig,
            user,
            container,
            name=f"replica-{priority}",
            extra_args=(f"--priority={priority}",),
        )

    with replica(100) as standby:
        with replica(200) as active:
            eventually(lambda: _said(standby, PAUSED), what="the lower priority replica to pause")
            api.apply(_collector(watched))
            eventually(
                lambda: api.condition("MetricsCollector", watched, "peered", "Ready") == "True",
                what="the active replica to reconcile the collector",
            )
            assert _handled_collector(active, watched)
            assert not _handled_collector(standby, watched), "the paused replica handled it"
        # the active replica stopped: the standby resumes and does the work
        eventually(lambda: _said(standby, RESUMED), what="the standby replica to resume")
        api.delete("Service", watched, "peered")
        eventually(lambda: api.get("Service", watched, "peered"), what="the standby to restore it")
        for run in (standby, active):
            # kopf's optional watch of all CRDs is not granted (see test_install_chart.py)
            refused = [m for m in run.rbac_refusals() if "customresourcedefinitions" not in m]
            assert refused == []
