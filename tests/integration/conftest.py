"""Fixtures that run tests against the real local control plane (see hack/pulse_devcluster)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes
import pytest
from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.operator import start_operator
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

TESTDATA = Path(__file__).parent / "testdata"

Promtool = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """One control plane for the whole session, with Pulse's and Prometheus Operator's CRDs
    (and the harness' own test CRD)."""
    crds = [*paths.pulse_crds(), *paths.third_party_crds(), *sorted(TESTDATA.glob("*.crd.yaml"))]
    with LocalCluster(crd_files=crds) as running:
        yield running


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture
def namespace(api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def sole_readers(api_client: kubernetes.client.ApiClient) -> None:
    """Waits until no Prometheus or ThanosRuler of an earlier test is left (their
    namespaces are deleted in the background): a test that makes its own then knows
    every reader in the cluster, as a Selected message names the closest of all."""
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def none_left() -> bool:
        return not any(
            custom.list_cluster_custom_object("monitoring.coreos.com", "v1", plural)["items"]
            for plural in ("prometheuses", "thanosrulers")
        )

    eventually(none_left, timeout=120, what="earlier tests' Prometheus objects to be gone")


@pytest.fixture(scope="session")
def operator_metrics_url() -> str:
    """Where the session's operator serves its own metrics."""
    return f"http://127.0.0.1:{free_port()}/metrics"


@pytest.fixture(scope="session")
def pulse_operator(cluster: LocalCluster, operator_metrics_url: str) -> Iterator[ManagedProcess]:
    """The real operator (`pulse-operator run`) against the session's cluster."""
    process = start_operator(cluster, f"--metrics={operator_metrics_url}")
    try:
        yield process
    finally:
        process.stop()
        # shown by pytest when a test of the session failed: what the operator said
        print(f"--- last lines of the operator's log:\n{process.log_tail(40)}")


@pytest.fixture(scope="session")
def promtool() -> Promtool:
    """Runs `promtool ARGS...` and fails the test, with its output, unless it exits 0.

    The real promtool, built by `make tools`: its tests fail, never skip, without it."""
    try:
        binary = paths.binary("promtool")
    except paths.MissingToolError as error:
        pytest.fail(str(error))

    def run(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            pytest.fail(
                f"promtool {' '.join(map(str, args))} exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done

    return run
