"""kopf wiring: when to reconcile, and what only kopf can do (events, retries).

Handlers are thin. A Pulse resource is reconciled fully when it is created or changed
and when the operator starts. A child's own watch event re-checks just that child, so
one edited or deleted by hand is restored within seconds, and with nothing changing the
operator writes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from pulse_operator.api.crd import GROUP
from pulse_operator.api.kinds import CHILD_KINDS, METRICS_COLLECTOR, RULE_READERS, Kind
from pulse_operator.api.objects import MANAGED_BY_SELECTOR, Object
from pulse_operator.metrics import OperatorMetrics
from pulse_operator.promapi import Limits, PrometheusAPI, Snapshots
from pulse_operator.reconcile.children import ChildEvent
from pulse_operator.reconcile.collector import refresh_collector_status
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.reconcile.live_status import write_live
from pulse_operator.reconcile.owners import (
    OWNERS,
    ClaimedBy,
    OwnerReconciler,
    claimed_by,
    current_owner,
)
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.reconcile.report import Outcome
from pulse_operator.selection import SelectorChanges
from pulse_operator.settings import OperatorSettings


class DigestDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """kopf's record of the last handled spec, kept as a digest of it.

    kopf stores the whole spec in an annotation by default, and the API server caps all
    annotations of an object at 256 KiB: an admitted spec larger than that could never be
    recorded, and kopf would rerun the create handler forever. Pulse's handlers reconcile
    the whole object and never read the old spec (no handler takes `old` or `diff`), so
    knowing *that* it changed is enough. The digest leaves out kopf's progress notes."""

    def __init__(self, progress: kopf.ProgressStorage, *, prefix: str, key: str) -> None:
        super().__init__(prefix=prefix, key=key)
        self._progress = progress

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        essence = self._progress.clear(essence=super().build(body=body, extra_fields=extra_fields))
        encoded = json.dumps(essence, sort_keys=True, separators=(",", ":")).encode()
        return {"sha256": hashlib.sha256(encoded).hexdigest()}  # type: ignore[typeddict-unknown-key]


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


@dataclass(frozen=True)
class Wiring:
    """What every handler shares: the cluster, the settings, the locks and the metrics."""

    kube: Kube
    settings: OperatorSettings
    locks: OwnerLocks
    metrics: OperatorMetrics
    corrections: Corrections

    def locked(
        self, kind: str, trigger: str, uid: str, work: Callable[[], Outcome | None]
    ) -> Outcome | None:
        """Runs `work` under the owner's lock, measured."""
        with self.locks(uid):
            return self.metrics.measure(kind, trigger, work)


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
    # the same way as for the API client (in-cluster service account, else the kubeconfig).
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(_kopf_configuration(settings, scoped))
    wiring = Wiring(kube, settings, OwnerLocks(), metrics or OperatorMetrics(), Corrections())
    for owner in OWNERS.values():
        _register_owner(registry, wiring, owner)
    _register_pod_status_refresh(registry, wiring)
    for child_kind in CHILD_KINDS:
        _register_child_watch(registry, wiring, child_kind)
    if not scoped:  # namespaced Roles cannot list Prometheus objects cluster-wide
        for reader_kind in RULE_READERS:
            _register_reader_watch(registry, wiring, reader_kind)
    if settings.prometheus_url:
        snapshots = Snapshots(PrometheusAPI(settings.prometheus_url, _limits(settings)))
        for owner in OWNERS.values():
            _register_live_status(registry, wiring, owner, snapshots)
    return registry


def _limits(settings: OperatorSettings) -> Limits:
    return Limits(
        timeout_seconds=settings.prometheus_timeout_seconds,
        max_bytes=settings.prometheus_max_bytes,
        period_seconds=settings.live_status_seconds,
    )


def _kopf_configuration(pulse: OperatorSettings, scoped: bool) -> Callable[..., None]:
    """The startup handler that puts Pulse's settings into kopf's."""

    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Pulse's status schema is structural (unknown fields are pruned), so kopf keeps
        # its bookkeeping in annotations rather than in status.
        progress = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.progress_storage = progress
        settings.persistence.diffbase_storage = DigestDiffBaseStorage(
            progress, prefix=GROUP, key="last-handled-configuration"
        )
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        # Only warnings become Events by themselves; handlers post their own Normal events.
        settings.posting.level = logging.WARNING
        settings.execution.max_workers = pulse.max_workers
        settings.queueing.worker_limit = pulse.worker_limit
        settings.queueing.idle_timeout = pulse.worker_idle_seconds
        # The API server selects the children: without this every ConfigMap, Service and
        # Deployment of the watched namespaces is streamed and parsed only to be dropped.
        # A child whose label is removed by hand leaves the selection, which the watch
        # reports as a deletion: it is re-applied, label and all.
        for child in CHILD_KINDS:
            settings.watching.label_selectors[child.group, child.plural] = MANAGED_BY_SELECTOR
        settings.watching.server_timeout = pulse.watch_server_timeout_seconds
        settings.watching.client_timeout = pulse.watch_client_timeout_seconds
        # kopf scans namespaces and CRDs cluster-wide, which namespaced Roles do not allow
        # (it would retry for about a minute before watching anything)
        settings.scanning.disabled = scoped

    return configure


def _post_events(raw: Mapping[str, Any], outcome: Outcome, reason: str) -> None:
    body = kopf.Body(dict(raw))  # type: ignore[arg-type]
    for warning_reason, message in outcome.warnings:
        kopf.event(body, type="Warning", reason=warning_reason, message=message)
    if outcome.applied:
        kopf.event(body, type="Normal", reason=reason, message=", ".join(outcome.applied))


def _register_owner(
    registry: kopf.OperatorRegistry, wiring: Wiring, owner: OwnerReconciler
) -> None:
    kind = owner.kind

    def reconcile_owner(
        body: kopf.Body,
        reason: str,
        namespace: str | None,
        name: str,
        uid: str,
        retry: int,
        **_: Any,
    ) -> None:
        def work() -> Outcome | None:
            current = current_owner(wiring.kube, kind.kind, namespace or "", name, uid)
            if current is None:
                return None
            # a new object has no children to prune yet; an update or a restart may have some
            return owner.full(wiring.kube, wiring.settings, current, prune=reason != "create")

        outcome = wiring.locked(kind.kind, "spec", uid, work)
        if outcome is None:
            return
        _post_events(body, outcome, "Applied")
        if outcome.permanent_error is not None:
            raise kopf.PermanentError(outcome.permanent_error)
        if outcome.retry_after is not None:
            delay = outcome.retry_after
            if outcome.backoff:
                delay = min(delay * 2**retry, wiring.settings.rejected_retry_max_seconds)
            message = "; ".join(message for _, message in outcome.warnings)
            raise kopf.TemporaryError(f"{message} (retrying in {delay:.0f} s)", delay=delay)

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(kind.group, kind.version, kind.plural, registry=registry, id=f"reconcile-{kind.plural}")(
            reconcile_owner
        )

    def by_name(namespace: str | None, name: str, uid: str, **_: Any) -> dict[Any, str]:
        return {(namespace or "", name): uid}

    # every owner, known without an API call: what a Prometheus's change must refresh
    kopf.index(kind.group, kind.version, kind.plural, registry=registry, id=_index_id(kind))(
        by_name
    )


def _index_id(kind: Kind) -> str:
    """The name of the kopf index of a Pulse kind's objects, and of its handler keyword."""
    return f"{kind.plural}_by_name"


def _pods_not_ready(status: Mapping[str, Any], **_: Any) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("reason") == "PodsNotReady"
        for c in (status or {}).get("conditions", [])
    )


def _register_pod_status_refresh(registry: kopf.OperatorRegistry, wiring: Wiring) -> None:
    kind = METRICS_COLLECTOR

    def refresh(namespace: str | None, name: str, uid: str, **_: Any) -> None:
        def work() -> None:
            current = current_owner(wiring.kube, kind.kind, namespace or "", name, uid)
            if current is not None:
                refresh_collector_status(wiring.kube, wiring.settings, current, wiring.corrections)

        wiring.locked(kind.kind, "pods", uid, work)

    period = wiring.settings.pod_status_refresh_seconds
    kopf.timer(
        kind.group,
        kind.version,
        kind.plural,
        registry=registry,
        id="pods-not-ready",
        interval=period,
        initial_delay=period,
        when=_pods_not_ready,
    )(refresh)


def _register_reader_watch(registry: kopf.OperatorRegistry, wiring: Wiring, kind: Kind) -> None:
    """A Prometheus or ThanosRuler whose selectors change (or that comes or goes) may
    start or stop loading Pulse's rules: every owner's Selected condition is judged
    again. Prometheus Operator patches their status often; those events change no
    selector and cost nothing but a digest."""
    changes = SelectorChanges()

    def on_reader_event(body: kopf.Body, type: str | None, **kwargs: Any) -> None:
        moved = changes.news(type, {"kind": kind.kind, **dict(body)})
        if not moved:
            return
        wiring.kube.forget_readers()
        for owner in OWNERS.values():
            index: kopf.Index[Any, str] = kwargs[_index_id(owner.kind)]
            for (namespace, name), uids in list(index.items()):
                for owner_uid in list(uids):
                    work = functools.partial(_refresh, wiring, owner, namespace, name, owner_uid)
                    wiring.locked(owner.kind.kind, "prometheus", owner_uid, work)

    kopf.on.event(
        kind.group, kind.version, kind.plural, registry=registry, id=f"readers-{kind.plural}"
    )(on_reader_event)


def _register_live_status(
    registry: kopf.OperatorRegistry, wiring: Wiring, owner: OwnerReconciler, snapshots: Snapshots
) -> None:
    """Every period, what the Prometheus says about each owner (Loaded, DataPresent, the
    SLO's numbers). The snapshot is shared and awaited in kopf's loop; kopf's copy of the
    owner decides whether anything moved, so a steady owner costs no API call at all,
    and only one that moved is read again and written under its lock."""
    kind = owner.kind

    async def refresh_live(
        body: kopf.Body, namespace: str | None, name: str, uid: str, **_: Any
    ) -> None:
        snapshot = await snapshots.current()
        if owner.live(wiring.settings, body, snapshot) is None:
            return

        def work() -> None:
            current = current_owner(wiring.kube, kind.kind, namespace or "", name, uid)
            if current is not None and (document := owner.live(wiring.settings, current, snapshot)):
                write_live(wiring.kube, current, document)

        await asyncio.to_thread(wiring.locked, kind.kind, "live", uid, work)

    period = wiring.settings.live_status_seconds
    kopf.timer(
        kind.group, kind.version, kind.plural, registry=registry, id=f"live-{kind.plural}",
        interval=period, initial_delay=min(period, 30.0),
    )(refresh_live)  # fmt: skip


def _refresh(wiring: Wiring, owner: OwnerReconciler, namespace: str, name: str, uid: str) -> None:
    current = current_owner(wiring.kube, owner.kind.kind, namespace, name, uid)
    if current is not None:
        owner.refresh(wiring.kube, wiring.settings, current, wiring.corrections)


def _child_changed(
    wiring: Wiring, claim: ClaimedBy, uid: str, child: Object, deleted: bool
) -> Outcome | None:
    """One child event, for the owner that claims it, read under its lock."""
    kind, namespace = claim.reconciler.kind.kind, child["metadata"]["namespace"]
    current = current_owner(wiring.kube, kind, namespace, claim.name, uid)
    if current is None:  # deleted with its owner (garbage collection)
        return None
    event = ChildEvent(child, deleted, wiring.corrections)
    outcome = claim.reconciler.child_changed(wiring.kube, wiring.settings, current, event)
    if outcome is not None:
        _post_events(current, outcome, "DriftCorrected")
    return outcome


def _news_of_a_child(kube: Kube) -> Callable[..., bool]:
    """The child watch's filter, decided in kopf's event loop before a thread or an API
    call is spent. Not news: the initial listing (the owners' resume handlers cover it)
    and the echo of Pulse's own apply (the object is exactly what was applied; in a burst
    that is most child events). A child is Pulse's by its controller reference or, when
    that was removed by hand, by Pulse's labels."""

    def when(body: kopf.Body, type: str | None, **_: Any) -> bool:
        if type is None or not claimed_by(body):
            return False
        return type == "DELETED" or not kube.is_own_apply(body["metadata"])

    return when


def _register_child_watch(registry: kopf.OperatorRegistry, wiring: Wiring, kind: Kind) -> None:
    def on_child_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        child = {"apiVersion": kind.api_version, "kind": kind.kind, **dict(body)}
        namespace = child["metadata"]["namespace"]
        if type == "DELETED":
            wiring.kube.forget(child["metadata"].get("uid", ""))
        for claim in claimed_by(child):
            owner_kind = claim.reconciler.kind.kind
            uid = claim.uid
            if uid is None:  # its controller reference was removed: find the owner by name
                owner = current_owner(wiring.kube, owner_kind, namespace, claim.name, None)
                if owner is None:
                    continue
                uid = owner["metadata"]["uid"]
            work = functools.partial(_child_changed, wiring, claim, uid, child, type == "DELETED")
            wiring.locked(owner_kind, "child", uid, work)

    kopf.on.event(
        kind.group,
        kind.version,
        kind.plural,
        registry=registry,
        id=f"children-{kind.plural}",
        when=_news_of_a_child(wiring.kube),
    )(on_child_event)
