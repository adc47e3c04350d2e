"""Children: applied whole, pruned when no longer wanted, restored when they drift."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from pulse_operator import drift
from pulse_operator.api.kinds import KINDS
from pulse_operator.api.objects import (
    NamespaceTerminatingError,
    Object,
    Owner,
    RejectedError,
    ref,
)
from pulse_operator.reconcile.fights import Corrections, Fight
from pulse_operator.reconcile.protocol import Kube


@dataclass
class Applied:
    """What apply_children did."""

    written: list[str] = field(default_factory=list)
    """Kind/name of each child applied, and -Kind/name of each one pruned."""
    skipped: list[str] = field(default_factory=list)
    """Children whose kind the API server does not serve (Prometheus Operator missing)."""
    live: dict[str, Object] = field(default_factory=dict)
    """The objects as the server returned them from the apply, by Kind/name."""
    rejected: RejectedError | None = None
    """The child the API server refused; the ones after it were not applied."""
    conflict: str | None = None
    """Why a child was not applied: an object of its name exists and is not the owner's;
    the ones after it were not applied either."""


def apply_children(
    kube: Kube,
    owner: Owner,
    children: Sequence[Object],
    *,
    prune: Sequence[str],
    known: Collection[str] = (),
) -> Applied:
    """Applies every child whose kind the server serves, then deletes owned objects of the
    `prune` kinds that are no longer wanted (none for a brand-new owner: it has none).

    A child not `known` to be the owner's already (the status lists those) is first
    looked up: Pulse never takes over an object it did not create. Such an object, or a
    child the server refuses, stops both applying and pruning: what was applied before
    stays as it is."""
    applied = Applied()
    for child in children:
        if not kube.serves(child["apiVersion"], child["kind"]):
            applied.skipped.append(ref(child))
            continue
        if ref(child) not in known and (conflict := _foreign(kube, owner, child)):
            applied.conflict = conflict
            return applied
        try:
            applied.live[ref(child)] = kube.apply(child)
        except RejectedError as rejected:
            applied.rejected = rejected
            return applied
        applied.written.append(ref(child))
    wanted = {ref(child) for child in children}
    for kind in prune:
        if not kube.serves(KINDS[kind].api_version, kind):
            continue
        for obj in kube.list_owned(kind, owner):
            if ref(obj) not in wanted:
                kube.delete(kind, owner.namespace, obj["metadata"]["name"])
                applied.written.append(f"-{ref(obj)}")
    return applied


def _foreign(kube: Kube, owner: Owner, child: Object) -> str | None:
    """Why the object named like `child` is someone else's, or None when it is absent or
    already controlled by `owner`."""
    meta = child["metadata"]
    existing = kube.metadata(child["kind"], meta["namespace"], meta["name"])
    if existing is None:
        return None
    references = existing["metadata"].get("ownerReferences", [])
    controller = next((r for r in references if r.get("controller")), None)
    if controller is not None and (controller.get("kind"), controller.get("name")) == (
        owner.kind,
        owner.name,
    ):
        return None  # this owner's, or its namesake's that was deleted: Pulse made it
    if controller is not None:
        whose = f"controlled by {controller.get('kind')}/{controller.get('name')}"
    else:
        managers = sorted({f.get("manager", "?") for f in existing["metadata"].get(
            "managedFields", [])})  # fmt: skip
        whose = f"managed by {', '.join(managers)}" if managers else "created by someone else"
    return (
        f"{ref(child)} already exists, {whose}: Pulse does not take over objects it did "
        f"not create. Rename the {owner.kind} or remove that object."
    )


def unserved(kube: Kube, children: Sequence[Object]) -> list[str]:
    """Kind/name of the children whose kind the server does not serve."""
    return [ref(c) for c in children if not kube.serves(c["apiVersion"], c["kind"])]


@dataclass(frozen=True)
class ChildEvent:
    """A child changed or was deleted, as its watch reported it."""

    child: Object
    deleted: bool
    corrections: Corrections
    """The operator's record of restorations, to tell a hand edit from a write fight."""


@dataclass(frozen=True)
class Corrected:
    """What correct_drift did about one child event."""

    restored: str | None = None
    """Kind/name of the child re-applied, or None."""
    fight: Fight | None = None
    """The write fight over it: new when `restored` is set, else one Pulse sits out."""


def correct_drift(
    kube: Kube, desired: Sequence[Object], event: ChildEvent, own_manager: str
) -> Corrected:
    """Re-applies one child if it was deleted or no longer carries what Pulse applied,
    unless another writer keeps changing it back (see fights.py)."""
    child, deleted, corrections = event.child, event.deleted, event.corrections
    match = [d for d in desired if ref(d) == ref(child)]
    if not match:
        return Corrected()
    namespace = child["metadata"].get("namespace", "")
    difference = None
    if deleted:
        corrections.forget(namespace, ref(child))
    else:
        difference = drift.first_difference(child, match[0])
        if difference is None:
            return Corrected()
        if ongoing := corrections.ongoing(namespace, [ref(child)]):
            return Corrected(fight=ongoing[0])
    try:
        kube.apply(match[0])
    except RejectedError:
        return Corrected()  # the owner's reconciliation reports it and retries
    except NamespaceTerminatingError:
        return Corrected()  # the child was deleted with its namespace, as the owner will be
    fight = None if difference is None else corrections.restored(child, difference, own_manager)
    return Corrected(restored=ref(match[0]), fight=fight)
