"""A MetricsCollector: its Secrets checked, its children applied, its pods reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulse_operator import status, validation
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import Object, Owner, ref
from pulse_operator.reconcile import children as kids
from pulse_operator.reconcile.children import ChildEvent
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.reconcile.report import (
    Outcome,
    corrected_outcome,
    failed,
    known_children,
    not_applied,
    observe,
    reported,
    selected,
    write_status,
)
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.credentials import referenced_secrets
from pulse_operator.settings import OperatorSettings

PRUNABLE_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
"""Kinds a collector's spec change can make unwanted (monitor kind switched, alerting off)."""


def reconcile_collector(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool = True
) -> Outcome:
    """Brings one MetricsCollector's children to what its spec says, and reports it."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_collector(owner, body.get("spec"), settings)
    except validation.SpecError as error:
        return failed(kube, body, error.reason, str(error), permanent=True)
    missing = [
        name
        for name in referenced_secrets(spec)
        if not kube.exists("Secret", owner.namespace, name)
    ]
    if missing:
        message = f"Secret(s) {', '.join(missing)} not found in namespace {owner.namespace}"
        outcome = failed(kube, body, "SecretMissing", message, permanent=False)
        outcome.retry_after = settings.secret_retry_seconds
        return outcome
    applied = kids.apply_children(
        kube, owner, children, prune=PRUNABLE_KINDS if prune else (), known=known_children(body)
    )
    if (stopped := not_applied(kube, settings, body, applied)) is not None:
        return stopped
    deployment = applied.live.get(f"Deployment/{owner.name}")
    pods = _pods_if_unready(kube, owner, deployment)
    desired = status.collector_status(
        observe(body),
        spec,
        children,
        applied.skipped,
        deployment,
        pods,
        selection=selected(kube, children, applied.skipped, applied.live),
    )
    return reported(kube, body, desired, applied)


def collector_child_changed(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], event: ChildEvent
) -> Outcome | None:
    """A child of this MetricsCollector changed: restore it if it drifted, and refresh the
    status when the Deployment's status moved. None when there is nothing to report."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_collector(owner, body.get("spec"), settings)
    except validation.SpecError:
        return None  # the owner's own handler has reported it; the children stay as they are
    corrected = kids.correct_drift(kube, children, event, settings.field_manager)
    child = event.child
    # the Deployment's status says Ready; a ServiceMonitor's, when Prometheus Operator
    # writes its bindings there, whether a Prometheus accepted it (Selected)
    bound = child["kind"] == "ServiceMonitor" and (child.get("status") or {}).get("bindings")
    watched = (child["kind"] == "Deployment" or bool(bound)) and not event.deleted
    if not watched and corrected == kids.Corrected():
        return None
    # kopf hands over the latest event of an object, so an unchanged Deployment's own
    # event is as new as a read; one just restored or deleted is read again
    as_seen = not (event.deleted or corrected.restored)
    seen = {ref(child): child} if as_seen else {}
    _refresh_status(kube, body, owner, spec, children, event.corrections, seen)
    return corrected_outcome(corrected)


def refresh_collector_status(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], corrections: Corrections
) -> None:
    """Re-reads the Deployment, its pods and the Prometheus objects, and rewrites the
    status if it moved: a pod going from ContainerCreating to CrashLoopBackOff changes no
    Deployment field, and a Prometheus changing its selectors changes no child, so no
    child event would tell."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_collector(owner, body.get("spec"), settings)
    except validation.SpecError:
        return
    _refresh_status(kube, body, owner, spec, children, corrections)


def _refresh_status(
    kube: Kube,
    body: Mapping[str, Any],
    owner: Owner,
    spec: MetricsCollectorSpec,
    children: list[Object],
    corrections: Corrections,
    seen: Mapping[str, Object] | None = None,
) -> None:
    """`seen`: children as an event just showed them (Kind/name -> object), not read again."""
    if status.blocked(body):
        return  # the failure stays reported until a full reconciliation clears it
    seen = seen or {}
    deployment = seen.get(f"Deployment/{owner.name}")
    if deployment is None:
        deployment = kube.get("Deployment", owner.namespace, owner.name)
    pods = _pods_if_unready(kube, owner, deployment)
    fights = corrections.ongoing(owner.namespace, [ref(c) for c in children])
    skipped = kids.unserved(kube, children)
    desired = status.collector_status(
        observe(body),
        spec,
        children,
        skipped,
        deployment,
        pods,
        [fight.message for fight in fights],
        selected(kube, children, skipped, seen),
    )
    write_status(kube, body, desired)


def _pods_if_unready(kube: Kube, owner: Owner, deployment: Object | None) -> list[Object]:
    """The Deployment's pods when some are not ready (to say why), else none: a healthy
    collector costs no pod listing."""
    if deployment is None:
        return []
    deployment_status = deployment.get("status", {})
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    counts = ("readyReplicas", "availableReplicas", "updatedReplicas")
    if all(int(deployment_status.get(count, 0)) >= wanted for count in counts):
        return []
    selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return kube.list_pods(owner.namespace, selector) or []
