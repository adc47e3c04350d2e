"""What a reconciliation tells the handler and writes to the owner's status."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pulse_operator import selection, status
from pulse_operator.api.common import ResourceStatus
from pulse_operator.api.objects import Object, ref
from pulse_operator.reconcile.children import Applied, ChildEvent, Corrected
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.settings import OperatorSettings


@dataclass
class Outcome:
    """What a reconciliation did and what the handler should still do."""

    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message) pairs to post as Warning Events."""
    applied: list[str] = field(default_factory=list)
    """Kind/name of each child written."""
    retry_after: float | None = None
    """Seconds after which to try again (a missing Secret), or None."""
    backoff: bool = False
    """Whether each further retry waits twice as long (up to a limit)."""
    permanent_error: str | None = None
    """Set when only a new generation of the spec can help."""

    @property
    def result(self) -> str:
        """The `result` label of pulse_operator_reconciles: ok or degraded."""
        return "degraded" if self.warnings else "ok"


class FullReconcile(Protocol):
    """A whole owner, pruning what it no longer wants or not."""

    def __call__(
        self, kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool
    ) -> Outcome: ...


class ChildChanged(Protocol):
    """One child of the owner changed or was deleted; None when there is nothing to report."""

    def __call__(
        self, kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], event: ChildEvent
    ) -> Outcome | None: ...


class StatusRefresh(Protocol):
    """Recompute an owner's status from what the cluster says now (a Prometheus changed
    its selectors, a pod changed state) and write it only if it moved."""

    def __call__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        body: Mapping[str, Any],
        corrections: Corrections,
    ) -> None: ...


def selected(
    kube: Kube,
    children: Sequence[Object],
    skipped: Sequence[str],
    live: Mapping[str, Object] | None = None,
) -> selection.Selection | None:
    """Whether some Prometheus loads the owner's rules and monitor (the Selected
    condition); None when it has none. Unknown when Prometheus Operator's CRDs are
    missing (nothing was applied to be loaded) or its objects may not be read. `live`:
    children as stored, by Kind/name; a ServiceMonitor not in it is read, for the
    bindings Prometheus Operator writes in its status."""
    wanted = [c for c in children if c["kind"] in selection.SELECTABLE_KINDS]
    if not wanted:
        return None
    if missing := [ref(c) for c in wanted if ref(c) in skipped]:
        return selection.unknown(
            "PrometheusOperatorMissing",
            f"{', '.join(missing)} not created: Prometheus Operator's CRDs are not installed",
        )
    readers = kube.readers()
    if readers is None:
        return selection.unknown(
            "PrometheusUnreadable",
            "the operator may not list Prometheus and ThanosRuler objects cluster-wide "
            "(grant list and watch on prometheuses and thanosrulers to know)",
        )
    stored = dict(live or {})
    for child in wanted:
        if child["kind"] == "ServiceMonitor" and ref(child) not in stored:
            meta = child["metadata"]
            stored[ref(child)] = kube.get(child["kind"], meta["namespace"], meta["name"]) or {}
    return selection.select(wanted, readers, functools.cache(kube.namespace_labels), stored)


def observe(body: Mapping[str, Any]) -> status.Observed:
    """The owner as read, at this moment."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return status.Observed(body=body, now=now)


def write_status(kube: Kube, body: Mapping[str, Any], desired: ResourceStatus) -> bool:
    """Applies the status only when it differs from what the object already says."""
    document = status.keep_live(body.get("status"), status.document(desired))
    if not status.changed(body.get("status"), document):
        return False
    meta = body["metadata"]
    kube.apply_status(body["kind"], meta["namespace"], meta["name"], document)
    return True


def failed(
    kube: Kube, body: Mapping[str, Any], reason: str, message: str, *, permanent: bool
) -> Outcome:
    """Reports a problem without touching the children: what was working keeps working."""
    write_status(kube, body, status.failed(observe(body), reason, message))
    outcome = Outcome(warnings=[(reason, message)])
    if permanent:
        outcome.permanent_error = message
    return outcome


def reported(
    kube: Kube, body: Mapping[str, Any], desired: ResourceStatus, applied: Applied
) -> Outcome:
    """Writes the status after applying; children that could not be created (their kind
    is not served) also become a Warning Event with the Degraded condition's words."""
    write_status(kube, body, desired)
    outcome = Outcome(applied=applied.written)
    if applied.skipped:
        degraded = next(c for c in desired.conditions if c.type == "Degraded")
        outcome.warnings.append((degraded.reason, degraded.message))
    return outcome


def not_applied(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], applied: Applied
) -> Outcome | None:
    """A child the API server refused, or one whose name another object holds: Degraded
    with the reason, retried with backoff. None when every child was applied."""
    if applied.rejected is not None:
        reason = "ChildRejected"
        message = f"{applied.rejected.ref} was refused by the API server: "
        message += applied.rejected.message
    elif applied.conflict is not None:
        reason, message = "NameConflict", applied.conflict
    else:
        return None
    outcome = failed(kube, body, reason, message, permanent=False)
    outcome.retry_after = settings.rejected_retry_seconds
    outcome.backoff = True
    return outcome


def known_children(body: Mapping[str, Any]) -> set[str]:
    """Kind/name of the children the owner's status says Pulse applied."""
    return set((body.get("status") or {}).get("children", []))


def corrected_outcome(corrected: Corrected) -> Outcome:
    """The child restored, and a new write fight over it as a Warning event."""
    outcome = Outcome(applied=[corrected.restored] if corrected.restored else [])
    if corrected.fight is not None and corrected.restored:
        outcome.warnings.append(("WriteConflict", corrected.fight.message))
    return outcome
