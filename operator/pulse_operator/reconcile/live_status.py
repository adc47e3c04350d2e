"""The live part of an owner's status, from one Prometheus snapshot: Loaded for both kinds,
DataPresent and the live numbers for SLOs, written only when a rounded value moved."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from pulse_operator import live, status, validation
from pulse_operator.api.common import ResourceStatus
from pulse_operator.api.metricscollector import MetricsCollectorStatus
from pulse_operator.api.objects import Object, Owner, ref
from pulse_operator.api.slo import SLOSpec
from pulse_operator.api.slo_status import SLOStatus
from pulse_operator.promapi import Snapshot
from pulse_operator.reconcile.protocol import Kube
from pulse_operator.reconcile.report import observe
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.slo import parse_and_render_slo
from pulse_operator.settings import OperatorSettings

LiveUpdate = Callable[[OperatorSettings, Mapping[str, Any], Snapshot], Object | None]
"""An owner's status with its live part from the snapshot, or None when it already says that."""


def collector_live(
    settings: OperatorSettings, body: Mapping[str, Any], snapshot: Snapshot
) -> Object | None:
    """The status with Loaded for the collector's alert rules, or None when it says that."""
    try:
        _, children = parse_and_render_collector(Owner.of(body), body.get("spec"), settings)
    except validation.SpecError:
        return None
    rule = _applied_rule(body, children)
    updates = [] if rule is None else [live.loaded(rule, snapshot)]
    return _moved(body, MetricsCollectorStatus, updates, None)


def slo_live(
    settings: OperatorSettings, body: Mapping[str, Any], snapshot: Snapshot
) -> Object | None:
    """The status with Loaded, DataPresent and the SLO's numbers, or None when it says that."""
    owner = Owner.of(body)
    try:
        spec, children = parse_and_render_slo(owner, body.get("spec"), settings)
    except validation.SpecError:
        return None
    rule = _applied_rule(body, children)
    if rule is None:
        return _moved(body, SLOStatus, [], None)
    loaded = live.loaded(rule, snapshot)
    present = live.data_present(owner.name, rule, snapshot, loaded)
    numbers = _numbers(owner, spec, snapshot) if present.status == "True" else None
    return _moved(body, SLOStatus, [loaded, present], numbers)


def write_live(kube: Kube, body: Mapping[str, Any], document: Object) -> None:
    """Applies a status that `collector_live` or `slo_live` computed from `body`."""
    meta = body["metadata"]
    kube.apply_status(body["kind"], meta["namespace"], meta["name"], document)


def _numbers(owner: Owner, spec: SLOSpec, snapshot: Snapshot) -> Object:
    now = datetime.datetime.now(datetime.UTC)
    numbers = live.slo_live(owner.name, owner.namespace, spec, snapshot, now)
    return numbers.model_dump(by_alias=True, exclude_none=True)


def _applied_rule(body: Mapping[str, Any], children: list[Object]) -> Object | None:
    """The owner's PrometheusRule, if the status says it was applied (not while its CRD
    is missing or the owner's last reconciliation failed before applying it)."""
    applied = set((body.get("status") or {}).get("children", []))
    rules = [c for c in children if c["kind"] == "PrometheusRule" and ref(c) in applied]
    return rules[0] if rules else None


def _moved(
    body: Mapping[str, Any],
    model: type[ResourceStatus],
    updates: list[status.ConditionUpdate],
    numbers: Object | None,
) -> Object | None:
    document = status.with_live(observe(body), model, updates, numbers)
    return document if status.live_changed(body.get("status"), document, model) else None
