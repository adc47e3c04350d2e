"""A control plane of its own for the live status: its audit log then holds only the
writes of the one operator under test, which is started with a Prometheus to ask (the
suite's shared operator is not), so every status write in it can be counted."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest
from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster


@pytest.fixture(scope="package")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(crd_files=[*paths.pulse_crds(), *paths.third_party_crds()]) as running:
        yield running


@pytest.fixture(scope="package")
def api_client(cluster: LocalCluster) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()
