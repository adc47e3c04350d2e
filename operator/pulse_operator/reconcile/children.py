"""Children: applied whole, pruned when no longer wanted, restored when they drift."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pulse_operator import drift
from pulse_operator.api.kinds import KINDS
from pulse_operator.api.objects import Object, Owner, ref
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


def apply_children(
    kube: Kube, owner: Owner, children: Sequence[Object], *, prune: Sequence[str]
) -> Applied:
    """Applies every child whose kind the server serves, then deletes owned objects of the
    `prune` kinds that are no longer wanted (none for a brand-new owner: it has none)."""
    applied = Applied()
    for child in children:
        if not kube.serves(child["apiVersion"], child["kind"]):
            applied.skipped.append(ref(child))
            continue
        applied.live[ref(child)] = kube.apply(child)
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


def unserved(kube: Kube, children: Sequence[Object]) -> list[str]:
    """Kind/name of the children whose kind the server does not serve."""
    return [ref(c) for c in children if not kube.serves(c["apiVersion"], c["kind"])]


def correct_drift(
    kube: Kube, desired: Sequence[Object], child: Object, deleted: bool
) -> str | None:
    """Re-applies one child if it was deleted or no longer carries what Pulse applied;
    Kind/name of the child restored, or None."""
    match = [d for d in desired if ref(d) == ref(child)]
    if not match or (not deleted and drift.contains(child, match[0])):
        return None
    kube.apply(match[0])
    return ref(match[0])
