"""Pulse's own kinds and how each is reconciled: the table handlers.py wires into kopf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulse_operator.api import kinds
from pulse_operator.api.crd import API_VERSION
from pulse_operator.api.objects import (
    COMPONENT_OWNERS,
    INSTANCE_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    Object,
)
from pulse_operator.reconcile.collector import (
    collector_child_changed,
    reconcile_collector,
    refresh_collector_status,
)
from pulse_operator.reconcile.live_status import LiveUpdate, collector_live, slo_live
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.reconcile.report import ChildChanged, FullReconcile, StatusRefresh
from pulse_operator.reconcile.slo import reconcile_slo, refresh_slo_status, slo_child_changed


@dataclass(frozen=True)
class OwnerReconciler:
    """How one Pulse kind is reconciled: fully, when one of its children changes, when
    only the world around it moved (its status refreshed), and what a Prometheus says
    about it (the live part of its status)."""

    kind: kinds.Kind
    full: FullReconcile
    child_changed: ChildChanged
    refresh: StatusRefresh
    live: LiveUpdate


OWNERS = {
    reconciler.kind.kind: reconciler
    for reconciler in (
        OwnerReconciler(
            kinds.METRICS_COLLECTOR,
            reconcile_collector,
            collector_child_changed,
            refresh_collector_status,
            collector_live,
        ),
        OwnerReconciler(kinds.SLO, reconcile_slo, slo_child_changed, refresh_slo_status, slo_live),
    )
}


def current_owner(
    kube: Kube, kind: str, namespace: str, name: str, uid: str | None
) -> Object | None:
    """The owner as it is now (kopf's and the watch's copies may be older), or None when
    it is gone, replaced by a namesake (when `uid` is known), or being deleted."""
    body = kube.get(kind, namespace, name)
    if body is None or (uid is not None and body["metadata"].get("uid") != uid):
        return None
    return None if body["metadata"].get("deletionTimestamp") else body


@dataclass(frozen=True)
class ClaimedBy:
    """The owner a child event concerns: from its controller reference, or, when that
    was removed by hand, from the labels every child carries (uid unknown)."""

    reconciler: OwnerReconciler
    name: str
    uid: str | None


def claimed_by(child: Mapping[str, Any]) -> list[ClaimedBy]:
    """Who owns this child: its Pulse controller reference; failing that, its Pulse labels."""
    meta = child.get("metadata", {})
    claims = [
        ClaimedBy(OWNERS[r["kind"]], r["name"], r["uid"])
        for r in meta.get("ownerReferences", [])
        if r.get("controller") and r.get("apiVersion") == API_VERSION and r.get("kind") in OWNERS
    ]
    labels = meta.get("labels") or {}
    kind = COMPONENT_OWNERS.get(labels.get("app.kubernetes.io/name", ""))
    if (
        not claims
        and labels.get(MANAGED_BY_LABEL) == MANAGED_BY
        and kind
        and labels.get(INSTANCE_LABEL)
    ):
        claims.append(ClaimedBy(OWNERS[kind], labels[INSTANCE_LABEL], None))
    return claims
