"""An SLO: its one PrometheusRule applied, restored when it drifts, and reported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulse_operator import status, validation
from pulse_operator.api.objects import Owner, ref
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
from pulse_operator.render.slo import parse_and_render_slo
from pulse_operator.settings import OperatorSettings

PRUNABLE_KINDS = ("PrometheusRule",)
"""An SLO owns nothing else; a rule whose name changed is the one to prune."""


def reconcile_slo(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool = True
) -> Outcome:
    """Brings one SLO's PrometheusRule to what its spec says, and reports it."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_slo(owner, body.get("spec"), settings)
    except validation.SpecError as error:  # the models, or PromQL that does not parse
        return failed(kube, body, error.reason, str(error), permanent=True)
    applied = kids.apply_children(
        kube, owner, children, prune=PRUNABLE_KINDS if prune else (), known=known_children(body)
    )
    if (stopped := not_applied(kube, settings, body, applied)) is not None:
        return stopped
    desired = status.slo_status(
        observe(body),
        spec,
        children[0],
        served=not applied.skipped,
        selection=selected(kube, children, applied.skipped, applied.live),
    )
    return reported(kube, body, desired, applied)


def slo_child_changed(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], event: ChildEvent
) -> Outcome | None:
    """The SLO's PrometheusRule changed: restore it if it drifted or was deleted, and say
    so while another writer keeps changing it back."""
    try:
        spec, children = parse_and_render_slo(Owner.of(body), body.get("spec"), settings)
    except validation.SpecError:
        return None  # the SLO's own handler reported it; the last good rule stays
    corrected = kids.correct_drift(kube, children, event, settings.field_manager)
    if corrected == kids.Corrected():
        return None
    if corrected.fight is not None and not status.blocked(body):
        fights = [corrected.fight.message]
        selection = selected(kube, children, ())
        desired = status.slo_status(observe(body), spec, children[0], True, fights, selection)
        write_status(kube, body, desired)
    return corrected_outcome(corrected)


def refresh_slo_status(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], corrections: Corrections
) -> None:
    """Rewrites the status if it moved without the SLO or its rule changing: a Prometheus
    that now selects the rule, or no longer does."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_slo(owner, body.get("spec"), settings)
    except validation.SpecError:
        return
    if status.blocked(body):
        return  # the failure stays reported until a full reconciliation clears it
    skipped = kids.unserved(kube, children)
    fights = corrections.ongoing(owner.namespace, [ref(c) for c in children])
    desired = status.slo_status(
        observe(body),
        spec,
        children[0],
        not skipped,
        [fight.message for fight in fights],
        selected(kube, children, skipped),
    )
    write_status(kube, body, desired)
