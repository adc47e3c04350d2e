"""An install that watches given namespaces: the operator, holding only Roles there,
starts at once, works in those namespaces and leaves every other alone.

In a module of its own: a cluster-wide operator running beside it (test_install_chart.py
keeps one for its module) would reconcile the other namespace too.
"""

from __future__ import annotations

import functools
from pathlib import Path

from install_testing import (
    REPO,
    Api,
    Installer,
    chart_container,
    load_yaml,
    release_operator,
    unique,
)
from pulse_devcluster.cluster import LocalCluster
from tests.support import eventually

MINIMAL = REPO / "examples" / "collectors" / "minimal.yaml"


def _is_ready(api: Api, kind: str, namespace: str, name: str) -> bool:
    return api.condition(kind, namespace, name, "Ready") == "True"


def test_a_namespaced_install_reconciles_in_its_namespaces_only(
    install_cluster: LocalCluster, api: Api, installer: Installer, tmp_path: Path
) -> None:
    """With watchNamespaces the operator holds Roles only; it must still start at once
    (kopf must not wait to list namespaces it may not list) and leave others alone."""
    watched, other = unique("watched"), unique("other")
    for namespace in (watched, other):
        api.create_namespace(namespace)
    release = installer.install({"watchNamespaces": [watched]}, prefix="pulse-scoped")
    assert f"--namespace={watched}" in chart_container(release.deployment())["args"]
    try:
        with release_operator(install_cluster, release, tmp_path) as run:
            for namespace in (watched, other):
                for obj in load_yaml(MINIMAL):
                    obj["metadata"]["namespace"] = namespace
                    api.apply(obj)
            eventually(
                functools.partial(_is_ready, api, "MetricsCollector", watched, "inventory"),
                timeout=20,
                what="the collector in the watched namespace to be Ready",
            )
            assert api.condition("MetricsCollector", other, "inventory", "Ready") is None
            assert api.get("Deployment", other, "inventory") is None
            assert run.rbac_refusals() == []
    finally:
        for namespace in (watched, other):
            api.delete("Namespace", None, namespace)
