"""The Selected condition as reconciliation writes it, against the in-memory API server."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.unit.operator.fake_kube import FakeKube
from tests.unit.operator.test_reconcile_collector import NS, SETTINGS, SPEC, collector, current
from tests.unit.operator.test_reconcile_slo import slo, spec

from pulse_operator.api.objects import Object
from pulse_operator.reconcile.children import ChildEvent
from pulse_operator.reconcile.collector import (
    collector_child_changed,
    reconcile_collector,
    refresh_collector_status,
)
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.reconcile.slo import reconcile_slo, refresh_slo_status

RELEASE = {"matchLabels": {"release": "kps"}}


def add_prometheus(kube: FakeKube, **spec: Any) -> None:
    kube.create(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": "k8s", "namespace": "monitoring"},
            "spec": spec,
        }
    )


def kube_prometheus_stack(kube: FakeKube) -> None:
    add_prometheus(
        kube,
        ruleSelector=RELEASE,
        ruleNamespaceSelector={},
        serviceMonitorSelector=RELEASE,
        serviceMonitorNamespaceSelector={},
    )


def selected(obj: Object) -> dict[str, Any]:
    (condition,) = [c for c in obj["status"]["conditions"] if c["type"] == "Selected"]
    return dict(condition)


def labelled_spec() -> dict[str, Any]:
    labelled = copy.deepcopy(SPEC)
    labelled["selectorLabels"] = {"release": "kps"}
    return labelled


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


def test_a_collector_whose_rule_and_monitor_are_selected_says_by_whom(kube: FakeKube) -> None:
    kube_prometheus_stack(kube)
    reconcile_collector(kube, SETTINGS, collector(kube, labelled_spec()), prune=False)
    condition = selected(current(kube))
    assert (condition["status"], condition["reason"]) == ("True", "Selected")
    assert condition["message"] == (
        "ServiceMonitor/checkout by Prometheus monitoring/k8s; "
        "PrometheusRule/checkout-alerts by Prometheus monitoring/k8s"
    )


def test_an_unlabelled_collector_is_ready_but_not_selected(kube: FakeKube) -> None:
    kube_prometheus_stack(kube)
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    obj = current(kube)
    condition = selected(obj)
    assert (condition["status"], condition["reason"]) == ("False", "NotSelected")
    assert condition["message"].startswith(
        "ServiceMonitor/checkout is not loaded: Prometheus monitoring/k8s selects "
        "ServiceMonitors with release=kps; ServiceMonitor/checkout has app.kubernetes.io/"
    )


def test_unreadable_prometheus_objects_make_it_unknown(kube: FakeKube) -> None:
    kube.readers_forbidden = True
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    condition = selected(current(kube))
    assert (condition["status"], condition["reason"]) == ("Unknown", "PrometheusUnreadable")


def test_without_prometheus_operator_it_is_unknown(kube: FakeKube) -> None:
    kube.unserved = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus"}
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    condition = selected(current(kube))
    assert (condition["status"], condition["reason"]) == ("Unknown", "PrometheusOperatorMissing")


def test_a_collector_with_nothing_to_select_has_no_selected_condition(kube: FakeKube) -> None:
    bare = {**SPEC, "monitor": {"kind": "None"}, "alerting": {"enabled": False}}
    reconcile_collector(kube, SETTINGS, collector(kube, bare), prune=False)
    types = {c["type"] for c in current(kube)["status"]["conditions"]}
    assert "Selected" not in types


def test_a_new_prometheus_is_seen_by_a_refresh_which_then_writes_nothing(kube: FakeKube) -> None:
    slo_spec = spec()
    slo_spec["selectorLabels"] = {"release": "kps"}
    reconcile_slo(kube, SETTINGS, slo(kube, slo_spec), prune=False)
    body = kube.get("SLO", NS, "api")
    assert body is not None
    assert selected(body)["reason"] == "NoPrometheus"
    kube_prometheus_stack(kube)
    refresh_slo_status(kube, SETTINGS, body, Corrections())
    body = kube.get("SLO", NS, "api")
    assert body is not None
    assert selected(body)["status"] == "True"
    writes = len(kube.requests)
    refresh_slo_status(kube, SETTINGS, body, Corrections())
    assert len(kube.requests) == writes, kube.requests[writes:]


def test_a_collector_refresh_follows_a_changed_selector(kube: FakeKube) -> None:
    kube_prometheus_stack(kube)
    reconcile_collector(kube, SETTINGS, collector(kube, labelled_spec()), prune=False)
    assert selected(current(kube))["status"] == "True"
    kube.edit(
        "Prometheus", "monitoring", "k8s",
        lambda p: p["spec"].update(serviceMonitorSelector={"matchLabels": {"release": "new"}}),
    )  # fmt: skip
    refresh_collector_status(kube, SETTINGS, current(kube), Corrections())
    condition = selected(current(kube))
    assert (condition["status"], condition["reason"]) == ("False", "NotSelected")
    assert "release=new" in condition["message"]


def test_prometheus_operator_refusing_the_monitor_turns_selected_false_at_its_event(
    kube: FakeKube,
) -> None:
    kube_prometheus_stack(kube)
    reconcile_collector(kube, SETTINGS, collector(kube, labelled_spec()), prune=False)
    refused = {"type": "Accepted", "status": "False", "reason": "InvalidConfiguration",
               "message": "endpoints[0]: basicAuth: secret not found"}  # fmt: skip
    binding = {"group": "monitoring.coreos.com", "resource": "prometheuses",
               "namespace": "monitoring", "name": "k8s", "conditions": [refused]}  # fmt: skip
    kube.set_status("ServiceMonitor", NS, "checkout", {"bindings": [binding]})
    monitor = kube.get("ServiceMonitor", NS, "checkout")
    assert monitor is not None
    event = ChildEvent(monitor, False, Corrections())
    collector_child_changed(kube, SETTINGS, current(kube), event)
    condition = selected(current(kube))
    assert (condition["status"], condition["reason"]) == ("False", "NotAccepted")
    assert condition["message"].endswith(
        "InvalidConfiguration: endpoints[0]: basicAuth: secret not found"
    )
    # a full reconciliation reads the same from the stored monitor
    reconcile_collector(kube, SETTINGS, current(kube))
    assert selected(current(kube))["reason"] == "NotAccepted"
