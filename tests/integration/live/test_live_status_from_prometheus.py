"""The live status against the real chain: Prometheus Operator generates the rule files
of a kube-prometheus-stack-style Prometheus, which runs on this host from them and
scrapes a service the test serves; the operator, told that Prometheus's URL, reports
Loaded, DataPresent and the SLO's numbers, and writes nothing while they hold still."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from pulse_devcluster.alerting import (
    RELEASE,
    MeasuredService,
    Ports,
    create_monitoring_stack,
    run_on_host,
)
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.loopback import serve
from pulse_devcluster.monitoring import loaded_rule_files
from pulse_devcluster.operator import start_operator
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

from pulse_operator.slo import windows

PERIOD_SECONDS = 5
IDLE_PERIODS = 8
MONITORING, SHOP = "monitoring", "shop"


def _ratio(metric: str) -> dict[str, Any]:
    return {
        "errorQuery": f'sum(rate({metric}{{job="pay",code="500"}}[{{{{.window}}}}]))',
        "totalQuery": f'sum(rate({metric}{{job="pay"}}[{{{{.window}}}}]))',
    }


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[MeasuredService, int]]:
    measured = MeasuredService(rate=10.0)
    with serve(lambda _: measured.exposition()) as port:
        yield measured, port


@pytest.fixture(scope="module")
def ports() -> Ports:
    return Ports(alertmanager=free_port(), prometheus=free_port(), receiver=free_port())


@pytest.fixture(scope="module")
def operator(cluster: LocalCluster, ports: Ports) -> Iterator[ManagedProcess]:
    env = {
        "PULSE_PROMETHEUS_URL": f"http://127.0.0.1:{ports.prometheus}",
        "PULSE_LIVE_STATUS_SECONDS": str(PERIOD_SECONDS),
        "PULSE_SELECTOR_LABELS": ",".join(f"{k}={v}" for k, v in RELEASE.items()),
    }
    process = start_operator(cluster, env=env)
    try:
        yield process
    finally:
        process.stop()
        print(f"--- last lines of the operator's log:\n{process.log_tail(40)}")


def _create(custom: kubernetes.client.CustomObjectsApi, plural: str, name: str, spec: Any) -> None:
    kind = {"slos": "SLO", "metricscollectors": "MetricsCollector"}[plural]
    body = {"apiVersion": "pulse.dev/v1alpha1", "kind": kind, "metadata": {"name": name}}
    custom.create_namespaced_custom_object(
        "pulse.dev", "v1alpha1", SHOP, plural, {**body, "spec": spec}
    )


def _status(custom: kubernetes.client.CustomObjectsApi, plural: str, name: str) -> dict[str, Any]:
    body = custom.get_namespaced_custom_object("pulse.dev", "v1alpha1", SHOP, plural, name)
    return dict(body.get("status") or {})


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def _rule_uids(cluster: LocalCluster, count: int) -> set[str] | None:
    """The uids of the namespace's PrometheusRules, once there are `count` of them."""
    path = "jsonpath={.items[*].metadata.uid}"
    uids = set(cluster.kubectl("get", "prometheusrules", "-n", SHOP, "-o", path).stdout.split())
    return uids if len(uids) == count else None


def _all_in_rule_files(cluster: LocalCluster, uids: set[str]) -> bool:
    files = loaded_rule_files(cluster, MONITORING, "kps")
    return all(any(f.endswith(f"-{uid}.yaml") for f in files) for uid in uids)


def test_loaded_data_present_and_the_numbers_and_no_writes_while_they_hold(
    cluster: LocalCluster,
    api_client: kubernetes.client.ApiClient,
    prometheus_operator: ManagedProcess,
    operator: ManagedProcess,
    service: tuple[MeasuredService, int],
    ports: Ports,
    tmp_path: Path,
) -> None:
    measured, service_port = service
    core = kubernetes.client.CoreV1Api(api_client)
    for name in (MONITORING, SHOP):
        core.create_namespace({"metadata": {"name": name}})
    custom = kubernetes.client.CustomObjectsApi(api_client)
    slo = {"service": "pay", "objective": 99.0, "window": "1d"}
    _create(custom, "slos", "pay", {**slo, "sli": {"ratio": _ratio("pay_requests_total")}})
    _create(custom, "slos", "ghost", {**slo, "sli": {"ratio": _ratio("ghost_requests_total")}})
    _create(custom, "metricscollectors", "checkout", {"collector": {"image": "example.com/c:1"}})
    pay_job = {"job_name": "pay", "static_configs": [{"targets": [f"127.0.0.1:{service_port}"]}]}
    create_monitoring_stack(cluster, MONITORING, ports, scrape_configs=[pay_job])
    uids = eventually(lambda: _rule_uids(cluster, 3), 60, "the three PrometheusRules")
    eventually(
        lambda: _all_in_rule_files(cluster, uids),
        timeout=60,
        what="Prometheus Operator put the three rules into monitoring/kps's rule files",
    )
    with run_on_host(cluster, MONITORING, ports, tmp_path):
        source = f"Prometheus at http://127.0.0.1:{ports.prometheus}"

        def reported(plural: str, name: str, *wanted: tuple[str, str]) -> dict[str, Any] | None:
            status = _status(custom, plural, name)
            ok = all(_condition(status, kind).get("status") == value for kind, value in wanted)
            return status if ok else None

        def with_numbers() -> dict[str, Any] | None:
            status = reported("slos", "pay", ("Loaded", "True"), ("DataPresent", "True"))
            return status if status and "sliPercent" in status.get("live", {}) else None

        pay = eventually(with_numbers, timeout=120, what="pay: Loaded, DataPresent, numbers")
        loaded = _condition(pay, "Loaded")
        assert loaded["reason"] == "RulesLoaded"
        assert loaded["message"].endswith(f" rules of PrometheusRule/pay-slo in {source}"), loaded
        assert pay["live"]["sliPercent"] == 100.0
        assert pay["live"]["errorBudgetRemainingPercent"] == 100.0
        alert_windows = windows.recorded_windows(1)[:-1]
        assert set(pay["live"]["burnRates"]) == {
            windows.prometheus_duration(w) for w in alert_windows
        }
        assert "budgetExhaustedAt" not in pay["live"]

        ghost = eventually(
            lambda: reported("slos", "ghost", ("Loaded", "True"), ("DataPresent", "False")),
            timeout=60,
            what="ghost: Loaded, and DataPresent=False",
        )
        present = _condition(ghost, "DataPresent")
        assert present["reason"] == "NoSeries"
        assert 'ghost_requests_total{job="pay"}' in present["message"]
        assert "live" not in ghost
        checkout = eventually(
            lambda: reported("metricscollectors", "checkout", ("Loaded", "True")),
            timeout=60,
            what="the collector's alert rules Loaded",
        )
        assert "DataPresent" not in [c["type"] for c in checkout["conditions"]]

        columns = cluster.kubectl("get", "slo", "pay", "-n", SHOP).stdout.splitlines()
        header, row = columns[0].split(), columns[1].split()
        assert dict(zip(header, row, strict=False))["SLI"] == "100"
        assert dict(zip(header, row, strict=False))["BUDGET"] == "100"

        # the idle-write measure: nothing moves, so nothing is written
        time.sleep(3)  # the audit log's batch of the last writes lands
        before = len(cluster.writes_by(("pulse-operator", "kopf")))
        time.sleep(IDLE_PERIODS * PERIOD_SECONDS)
        idle = cluster.writes_by(("pulse-operator", "kopf"))[before:]
        print(
            f"idle writes with live status on: {len(idle)} in {IDLE_PERIODS} periods of "
            f"{PERIOD_SECONDS} s, 3 objects (the bound is one per object per period: "
            f"{3 * IDLE_PERIODS})"
        )
        assert [w.get("requestURI") for w in idle] == []

        # a failure shows in the numbers within a period or two
        measured.switch(failing=True, rate=10.0)

        def burning_fast() -> dict[str, Any] | None:
            status = _status(custom, "slos", "pay")
            rates = status.get("live", {}).get("burnRates", {})
            return status if rates.get("5m", 0) > 1 else None

        burning = eventually(burning_fast, timeout=60, what="pay's 5m burn rate above 1")
        assert burning["live"]["sliPercent"] < 100.0
        assert burning["live"]["errorBudgetRemainingPercent"] < 100.0
        # at a 5m burn rate above 1 the budget runs out, unless (with minutes of history
        # in a 1d window) the failure has spent it already
        spent = burning["live"]["errorBudgetRemainingPercent"] <= 0
        assert ("budgetExhaustedAt" in burning["live"]) is not spent, burning["live"]
        measured.switch(failing=False, rate=10.0)
