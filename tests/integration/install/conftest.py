"""Fixtures of the install tests: a control plane of their own and the chart installed
into it with Helm's SDK.

A cluster of their own because the suite's shared one may have the `pulse_operator`
fixture running with admin credentials: it would do the work that these tests must see
done (or, with a permission removed, not done) by the chart's ServiceAccount.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from install_testing import Api, Installer, Release, unique
from pulse_devcluster.cluster import LocalCluster


@pytest.fixture(scope="package")
def install_cluster() -> Iterator[LocalCluster]:
    """etcd, kube-apiserver, controllers, scheduler and KWOK, with Pulse's and Prometheus
    Operator's CRDs (the kopf peering CRDs come with the chart)."""
    with LocalCluster() as running:
        yield running


@pytest.fixture(scope="package")
def api(install_cluster: LocalCluster) -> Api:
    return Api(install_cluster)


@pytest.fixture(scope="package")
def installer(install_cluster: LocalCluster, api: Api) -> Iterator[Installer]:
    installer = Installer(install_cluster, api, [])
    try:
        yield installer
    finally:
        for release in list(installer.releases):
            installer.uninstall(release)


@pytest.fixture
def test_namespace(api: Api) -> Iterator[str]:
    """A fresh namespace whose pods must meet the restricted Pod Security Standard."""
    name = unique("ns")
    api.create_namespace(name, {"pod-security.kubernetes.io/enforce": "restricted"})
    try:
        yield name
    finally:
        api.delete("Namespace", None, name)


@pytest.fixture(scope="package")
def chart_release(installer: Installer) -> Release:
    """The chart with its default values, in a namespace that enforces the restricted Pod
    Security Standard, so the operator's own pod has to pass it to run."""
    return installer.install(namespace_labels={"pod-security.kubernetes.io/enforce": "restricted"})
