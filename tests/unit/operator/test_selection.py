"""Judging, as Prometheus Operator does, whether a Prometheus loads a child."""

from __future__ import annotations

from typing import Any

import pytest

from pulse_operator.selection import (
    Reader,
    SelectorChanges,
    matches,
    select,
    selector_fingerprint,
)

RELEASE = {"matchLabels": {"release": "kube-prometheus-stack"}}


def prometheus(namespace: str = "monitoring", name: str = "k8s", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def kube_prometheus_stack() -> dict[str, Any]:
    """kube-prometheus-stack's default Prometheus: its release label, any namespace."""
    return prometheus(
        ruleSelector=RELEASE,
        ruleNamespaceSelector={},
        serviceMonitorSelector=RELEASE,
        serviceMonitorNamespaceSelector={},
        podMonitorSelector=RELEASE,
        podMonitorNamespaceSelector={},
    )


def child(kind: str, name: str, namespace: str = "shop", **labels: str) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": labels}}


def no_namespaces(name: str) -> dict[str, str] | None:
    raise AssertionError(f"namespace {name} read although no selector needs it")


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (None, {"a": "1"}, False),
        ({}, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
         {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
         {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
        ({"matchLabels": {"a": "1"},
          "matchExpressions": [{"key": "b", "operator": "Exists"}]}, {"a": "1"}, False),
    ],
)  # fmt: skip
def test_label_selectors_match_as_kubernetes_matches_them(
    selector: dict[str, Any] | None, labels: dict[str, str], expected: bool
) -> None:
    assert matches(selector, labels) is expected


def test_kube_prometheus_stack_selects_a_rule_with_its_release_label() -> None:
    rule = child("PrometheusRule", "api-slo", release="kube-prometheus-stack")
    selection = select([rule], [kube_prometheus_stack()], no_namespaces)
    assert selection is not None
    assert (selection.status, selection.reason) == ("True", "Selected")
    assert selection.message == "PrometheusRule/api-slo by Prometheus monitoring/k8s"


def test_a_rule_without_the_label_is_not_selected_and_the_message_says_what_is_missing() -> None:
    rule = child("PrometheusRule", "api-slo", prometheus="main")
    selection = select([rule], [kube_prometheus_stack()], no_namespaces)
    assert selection is not None
    assert (selection.status, selection.reason) == ("False", "NotSelected")
    assert selection.message == (
        "PrometheusRule/api-slo is not loaded: Prometheus monitoring/k8s selects rules with "
        "release=kube-prometheus-stack; PrometheusRule/api-slo has prometheus=main"
    )


def test_an_unset_rule_selector_selects_nothing() -> None:
    rule = child("PrometheusRule", "r", namespace="monitoring")
    selection = select([rule], [prometheus(ruleNamespaceSelector={})], no_namespaces)
    assert selection is not None
    assert selection.status == "False"
    assert "selects no rules (ruleSelector is unset)" in selection.message


def test_an_unset_namespace_selector_means_the_readers_own_namespace_only() -> None:
    reader = prometheus(ruleSelector={})
    here = select([child("PrometheusRule", "r", namespace="monitoring")], [reader], no_namespaces)
    there = select([child("PrometheusRule", "r", namespace="shop")], [reader], no_namespaces)
    assert here is not None
    assert here.status == "True"
    assert there is not None
    assert there.status == "False"
    assert there.message == (
        "PrometheusRule/r is not loaded: Prometheus monitoring/k8s selects rules only in its "
        "own namespace monitoring (ruleNamespaceSelector is unset); PrometheusRule/r is in shop"
    )


def test_a_namespace_selector_is_matched_against_the_namespaces_labels() -> None:
    reader = prometheus(ruleSelector={}, ruleNamespaceSelector={"matchLabels": {"team": "a"}})
    rule = child("PrometheusRule", "r")
    labels = {"shop": {"team": "b"}}
    selection = select([rule], [reader], labels.get)
    assert selection is not None
    assert selection.reason == "NotSelected"
    assert "selects rules in namespaces with team=a; namespace shop has team=b" in (
        selection.message
    )
    labels["shop"] = {"team": "a"}
    selection = select([rule], [reader], labels.get)
    assert selection is not None
    assert selection.status == "True"


def test_an_unreadable_namespace_makes_the_answer_unknown_not_false() -> None:
    reader = prometheus(ruleSelector={}, ruleNamespaceSelector={"matchLabels": {"team": "a"}})
    selection = select([child("PrometheusRule", "r")], [reader], lambda _: None)
    assert selection is not None
    assert (selection.status, selection.reason) == ("Unknown", "NamespaceUnreadable")


def test_every_selectable_child_must_be_loaded_and_the_monitor_only_by_a_prometheus() -> None:
    rule = child("PrometheusRule", "c-alerts", release="kube-prometheus-stack")
    monitor = child("ServiceMonitor", "c", release="kube-prometheus-stack")
    ruler = {
        "kind": "ThanosRuler",
        "metadata": {"name": "ruler", "namespace": "monitoring"},
        "spec": {"ruleSelector": {}, "ruleNamespaceSelector": {}},
    }
    only_ruler = select([rule, monitor], [ruler], no_namespaces)
    assert only_ruler is not None
    assert only_ruler.status == "False"
    assert only_ruler.message == "no Prometheus exists to load ServiceMonitor/c"
    both = select([rule, monitor], [ruler, kube_prometheus_stack()], no_namespaces)
    assert both is not None
    assert both.status == "True"
    assert both.message == (
        "PrometheusRule/c-alerts by Prometheus monitoring/k8s, ThanosRuler monitoring/ruler; "
        "ServiceMonitor/c by Prometheus monitoring/k8s"
    )


def test_the_closest_reader_explains_a_refusal() -> None:
    far = prometheus(name="a-other", ruleSelector={})  # wrong namespace: farther
    near = prometheus(name="b-near", ruleSelector=RELEASE, ruleNamespaceSelector={})
    selection = select([child("PrometheusRule", "r")], [far, near], no_namespaces)
    assert selection is not None
    assert "Prometheus monitoring/b-near selects rules with release=" in selection.message
    assert "a-other" not in selection.message


def test_no_reader_and_nothing_selectable() -> None:
    none = select([child("PrometheusRule", "r")], [], no_namespaces)
    assert none is not None
    assert (none.status, none.reason) == ("False", "NoPrometheus")
    assert select([child("ConfigMap", "c")], [kube_prometheus_stack()], no_namespaces) is None


def test_the_fingerprint_moves_with_selectors_only() -> None:
    reader = kube_prometheus_stack()
    before = selector_fingerprint(reader)
    reader["status"] = {"availableReplicas": 2}
    reader["spec"]["replicas"] = 3
    assert selector_fingerprint(reader) == before
    reader["spec"]["ruleSelector"] = {"matchLabels": {"release": "other"}}
    assert selector_fingerprint(reader) != before
    assert Reader.of(reader).ref == "Prometheus monitoring/k8s"


def test_only_a_reader_that_comes_goes_or_changes_its_selectors_is_news() -> None:
    changes = SelectorChanges()
    reader = {**kube_prometheus_stack(), "metadata": {"name": "k8s", "namespace": "m", "uid": "u"}}
    assert not changes.news(None, reader)  # the start-up listing
    reader["status"] = {"availableReplicas": 1}
    assert not changes.news("MODIFIED", reader)  # Prometheus Operator's status update
    reader["spec"]["ruleSelector"] = {}
    assert not changes.news(None, reader)  # a re-listing is not news, even when it moved
    reader["spec"]["ruleSelector"] = RELEASE
    assert changes.news("MODIFIED", reader)
    assert not changes.news("MODIFIED", reader)
    other = {**kube_prometheus_stack(), "metadata": {"name": "b", "namespace": "m", "uid": "v"}}
    assert changes.news("ADDED", other)
    assert changes.news("DELETED", other)
    assert not changes.news("DELETED", other)


def bound(monitor: dict[str, Any], *bindings: tuple[str, str, str, str]) -> dict[str, Any]:
    """The monitor as stored, with Prometheus Operator's status.bindings: (resource,
    namespace, name, Accepted status) each, shaped as v0.85 writes them."""
    entries = [
        {"group": "monitoring.coreos.com", "resource": resource, "namespace": namespace,
         "name": name,
         "conditions": [{"type": "Accepted", "status": accepted,
                         "reason": "InvalidConfiguration" if accepted == "False" else "",
                         "message": "endpoints[0]: tlsConfig: secret not found",
                         "lastTransitionTime": "2026-12-02T15:00:00Z", "observedGeneration": 1}]}
        for resource, namespace, name, accepted in bindings
    ]  # fmt: skip
    return {**monitor, "status": {"bindings": entries}}


def test_a_selecting_prometheus_that_refused_the_monitor_is_not_accepted() -> None:
    monitor = child("ServiceMonitor", "checkout", release="kube-prometheus-stack")
    stored = bound(monitor, ("prometheuses", "monitoring", "k8s", "False"))
    result = select(
        [monitor], [kube_prometheus_stack()], no_namespaces, {"ServiceMonitor/checkout": stored}
    )
    assert result is not None
    assert (result.status, result.reason) == ("False", "NotAccepted")
    assert result.message == (
        "ServiceMonitor/checkout is selected by Prometheus monitoring/k8s, which Prometheus "
        "Operator did not let load it: InvalidConfiguration: endpoints[0]: tlsConfig: "
        "secret not found"
    )


def test_a_binding_counts_only_for_a_reader_that_selects_and_another_reader_still_does() -> None:
    monitor = child("ServiceMonitor", "checkout", release="kube-prometheus-stack")
    other = prometheus(name="other", serviceMonitorSelector={}, serviceMonitorNamespaceSelector={})
    # a binding left behind by a Prometheus that no longer selects the monitor, and an
    # accepted one: neither changes the verdict; a refusal by one of two readers leaves the other
    stored = bound(
        monitor,
        ("prometheuses", "monitoring", "gone", "False"),
        ("prometheuses", "monitoring", "other", "True"),
        ("prometheuses", "monitoring", "k8s", "False"),
    )
    result = select(
        [monitor],
        [kube_prometheus_stack(), other],
        no_namespaces,
        {"ServiceMonitor/checkout": stored},
    )
    assert result is not None
    assert (result.status, result.message) == (
        "True",
        "ServiceMonitor/checkout by Prometheus monitoring/other",
    )
