"""Pulse's own kinds and how each is reconciled: the table handlers.py wires into kopf."""

from __future__ import annotations

from dataclasses import dataclass

from pulse_operator.api import kinds
from pulse_operator.api.objects import Object
from pulse_operator.reconcile.collector import collector_child_changed, reconcile_collector
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.reconcile.report import ChildChanged, FullReconcile
from pulse_operator.reconcile.slo import reconcile_slo, slo_child_changed


@dataclass(frozen=True)
class OwnerReconciler:
    """How one Pulse kind is reconciled, fully and when one of its children changes."""

    kind: kinds.Kind
    full: FullReconcile
    child_changed: ChildChanged


OWNERS = {
    reconciler.kind.kind: reconciler
    for reconciler in (
        OwnerReconciler(kinds.METRICS_COLLECTOR, reconcile_collector, collector_child_changed),
        OwnerReconciler(kinds.SLO, reconcile_slo, slo_child_changed),
    )
}


def current_owner(kube: Kube, kind: str, namespace: str, name: str, uid: str) -> Object | None:
    """The owner as it is now (kopf's and the watch's copies may be older), or None when
    it is gone, replaced by a namesake, or being deleted."""
    body = kube.get(kind, namespace, name)
    if body is None or body["metadata"].get("uid") != uid:
        return None
    return None if body["metadata"].get("deletionTimestamp") else body
