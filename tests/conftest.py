"""Shared test configuration: everything under tests/integration/ is marked `integration`,
everything under tests/e2e/ (the real-node stage, `make e2e`) `e2e`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.monitoring import start_prometheus_operator
from pulse_devcluster.processes import ManagedProcess

# tests.support asserts (assert_matches_golden): let pytest explain its failures too.
pytest.register_assert_rewrite("tests.support")

_INTEGRATION_DIR = Path(__file__).parent / "integration"
_E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parents = Path(str(item.path)).parents
        if _INTEGRATION_DIR in parents:
            item.add_marker(pytest.mark.integration)
        elif _E2E_DIR in parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def prometheus_operator(cluster: LocalCluster) -> Iterator[ManagedProcess]:
    """The real Prometheus Operator against the stage's cluster (integration or real
    node), for one module: it acts on the Prometheus and Alertmanager objects that
    module makes."""
    process = start_prometheus_operator(cluster)
    try:
        yield process
    finally:
        process.stop()
        print(f"--- last lines of prometheus-operator's log:\n{process.log_tail(20)}")
