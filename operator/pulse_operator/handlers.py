"""kopf wiring: when to reconcile, and what only kopf can do (events, retries).

Handlers are thin. A Pulse resource is reconciled fully when it is created or changed
and when the operator starts. A child's own watch event re-checks just that child, so
one edited or deleted by hand is restored within seconds, and with nothing changing the
operator writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from pulse_operator import reconcile
from pulse_operator.kube import Kube, Object
from pulse_operator.metrics import OperatorMetrics
from pulse_operator.render.meta import MANAGED_BY
from pulse_operator.settings import OperatorSettings

GROUP, VERSION = "pulse.dev", "v1alpha1"
CHILD_RESOURCES = (
    ("", "v1", "configmaps", "ConfigMap"),
    ("", "v1", "services", "Service"),
    ("apps", "v1", "deployments", "Deployment"),
    ("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor"),
    ("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor"),
    ("monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule"),
)


@dataclass(frozen=True)
class OwnerKind:
    """How one Pulse kind is reconciled, fully and when one of its children changes."""

    kind: str
    plural: str
    full: reconcile.FullReconcile
    child: Callable[
        [Kube, OperatorSettings, Mapping[str, Any], Object, bool], reconcile.Outcome | None
    ]


OWNER_KINDS = (
    OwnerKind(
        "MetricsCollector",
        "metricscollectors",
        reconcile.reconcile_collector,
        reconcile.collector_child_changed,
    ),
    OwnerKind("SLO", "slos", reconcile.reconcile_slo, reconcile.slo_child_changed),
)


def _post_events(raw: Mapping[str, Any], outcome: reconcile.Outcome, reason: str) -> None:
    body = kopf.Body(dict(raw))  # type: ignore[arg-type]
    for warning_reason, message in outcome.warnings:
        kopf.event(body, type="Warning", reason=warning_reason, message=message)
    if outcome.applied:
        kopf.event(body, type="Normal", reason=reason, message=", ".join(outcome.applied))


def build_registry(
    kube: Kube,
    settings: OperatorSettings,
    *,
    scoped: bool = False,
    metrics: OperatorMetrics | None = None,
) -> kopf.OperatorRegistry:
    """Every handler, in a registry of its own (no module-level state). `scoped`: watching
    named namespaces only, with namespaced Roles, so nothing cluster-wide may be listed."""
    registry = kopf.OperatorRegistry()
    # A registry of our own does not get kopf's default login handlers: credentials come
    # the same way as for Kube (in-cluster service account, else the kubeconfig).
    kopf.on.login(registry=registry)(kopf.login_via_client)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Pulse's status schema is structural (unknown fields are pruned), so kopf keeps
        # its bookkeeping in annotations rather than in status.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        # Only warnings become Events by themselves; handlers post their own Normal events.
        settings.posting.level = logging.WARNING
        settings.execution.max_workers = 16
        # Bounded per-object workers: a burst of thousands of events waits in the watch
        # streams instead of becoming thousands of live tasks holding bodies. Measured at
        # 1000 collectors: unbounded 327 MiB peak; 64 took 157 MiB but 148 s to converge;
        # 200 took 247 MiB and 118 s (docs/benchmarks.md).
        settings.queueing.worker_limit = 200
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        # kopf scans namespaces and CRDs cluster-wide, which namespaced Roles do not allow
        # (it would retry for about a minute before watching anything)
        settings.scanning.disabled = scoped

    locks = OwnerLocks()
    metrics = metrics or OperatorMetrics()
    for owner_kind in OWNER_KINDS:
        _register_owner(registry, kube, settings, owner_kind, locks, metrics)
    _register_pod_status_refresh(registry, kube, settings, locks, metrics)
    for group, version, plural, kind in CHILD_RESOURCES:
        _register_child_watch(
            registry, kube, settings, locks, metrics, group, version, plural, kind
        )
    return registry


class OwnerLocks:
    """One lock per owner: its full reconciliation and its children's events never
    interleave, so a status computed from an older Deployment never lands last.
    (One small lock per owner ever seen; a thousand owners cost kilobytes.)"""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())


def _current(kube: Kube, kind: str, namespace: str, name: str, uid: str) -> Object | None:
    """The owner as it is now (kopf's and the watch's copies may be older), or None when
    it is gone, replaced by a namesake, or being deleted."""
    body = kube.get(kind, namespace, name)
    if body is None or body["metadata"].get("uid") != uid:
        return None
    return None if body["metadata"].get("deletionTimestamp") else body


def _register_owner(
    registry: kopf.OperatorRegistry,
    kube: Kube,
    settings: OperatorSettings,
    owner: OwnerKind,
    locks: OwnerLocks,
    metrics: OperatorMetrics,
) -> None:
    def reconcile_owner(
        body: kopf.Body, reason: str, namespace: str | None, name: str, uid: str, **_: Any
    ) -> None:
        with locks(uid), metrics.reconciling(owner.kind, "spec") as result:
            current = _current(kube, owner.kind, namespace or "", name, uid)
            if current is None:
                result["result"] = "ok"
                return
            # a new object has no children to prune yet; an update or a restart may have some
            outcome = owner.full(kube, settings, current, prune=reason != "create")
            result["result"] = "degraded" if outcome.warnings else "ok"
        _post_events(body, outcome, "Applied")
        if outcome.permanent_error is not None:
            raise kopf.PermanentError(outcome.permanent_error)
        if outcome.retry_after is not None:
            raise kopf.TemporaryError(str(outcome.warnings), delay=outcome.retry_after)

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(GROUP, VERSION, owner.plural, registry=registry, id=f"reconcile-{owner.plural}")(
            reconcile_owner
        )


POD_STATUS_REFRESH_SECONDS = 10.0
"""Seconds between re-reads of a collector's pods while they are not Ready. Only such
collectors get the timer (kopf starts and stops it as the status changes), and the first
read comes one period after they were reported: a collector that is Ready within that
costs nothing."""


def _pods_not_ready(status: Mapping[str, Any], **_: Any) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("reason") == "PodsNotReady"
        for c in (status or {}).get("conditions", [])
    )


def _register_pod_status_refresh(
    registry: kopf.OperatorRegistry,
    kube: Kube,
    settings: OperatorSettings,
    locks: OwnerLocks,
    metrics: OperatorMetrics,
) -> None:
    def refresh(namespace: str | None, name: str, uid: str, **_: Any) -> None:
        with locks(uid), metrics.reconciling("MetricsCollector", "pods") as result:
            current = _current(kube, "MetricsCollector", namespace or "", name, uid)
            if current is not None:
                reconcile.refresh_collector_status(kube, settings, current)
            result["result"] = "ok"

    kopf.timer(
        GROUP,
        VERSION,
        "metricscollectors",
        registry=registry,
        id="pods-not-ready",
        interval=POD_STATUS_REFRESH_SECONDS,
        initial_delay=POD_STATUS_REFRESH_SECONDS,
        when=_pods_not_ready,
    )(refresh)


def _register_child_watch(
    registry: kopf.OperatorRegistry,
    kube: Kube,
    settings: OperatorSettings,
    locks: OwnerLocks,
    metrics: OperatorMetrics,
    group: str,
    version: str,
    plural: str,
    kind: str,
) -> None:
    owners = {owner.kind: owner for owner in OWNER_KINDS}

    def on_child_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        if type is None:  # the initial listing; the owners' resume handlers cover it
            return
        child = {"apiVersion": f"{group}/{version}".lstrip("/"), "kind": kind, **dict(body)}
        namespace = body["metadata"]["namespace"]
        for reference in body.get("metadata", {}).get("ownerReferences", []):
            owner = owners.get(reference.get("kind", ""))
            if owner is None or not reference.get("controller"):
                continue
            with locks(reference["uid"]), metrics.reconciling(owner.kind, "child") as result:
                current = _current(kube, owner.kind, namespace, reference["name"], reference["uid"])
                result["result"] = "ok"
                if current is None:  # deleted with its owner (garbage collection)
                    continue
                result["result"] = "error"
                outcome = owner.child(kube, settings, current, child, type == "DELETED")
                result["result"] = "degraded" if outcome and outcome.warnings else "ok"
            if outcome is not None:
                _post_events(current, outcome, "DriftCorrected")

    kopf.on.event(
        group,
        version,
        plural,
        registry=registry,
        id=f"children-{plural}",
        labels={"app.kubernetes.io/managed-by": MANAGED_BY},
    )(on_child_event)
