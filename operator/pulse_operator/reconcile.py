"""Reconciliation: fetch what is needed, render, apply, and compute the status.

kopf handlers (handlers.py) call these functions and only add what is kopf's: events,
retries and the choice of when to run. Everything here is synchronous and runs in
kopf's thread pool.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pulse_operator import drift, pod_health, validation
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.slo import SLOSpec
from pulse_operator.kube import KINDS, Kube, Object
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.meta import Owner
from pulse_operator.render.slo import render_slo
from pulse_operator.settings import OperatorSettings
from pulse_operator.slo import promql
from pulse_operator.slo.rules import window_table
from pulse_operator.status import ConditionUpdate, merge_conditions, status_changed

SECRET_RETRY_SECONDS = 30.0


class FullReconcile(Protocol):
    """reconcile_collector and reconcile_slo: a whole owner, pruning or not."""

    def __call__(
        self, kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool
    ) -> Outcome: ...


@dataclass
class Outcome:
    """What a reconciliation did and what the handler should still do."""

    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(reason, message) pairs to post as Warning Events."""
    applied: list[str] = field(default_factory=list)
    """Kind/name of each child written."""
    retry_after: float | None = None
    """Seconds after which to try again (a missing Secret), or None."""
    permanent_error: str | None = None
    """Set when only a new generation of the spec can help."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_of(body: Mapping[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(kind=body["kind"], name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def ref(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _referenced_secrets(spec: MetricsCollectorSpec) -> list[str]:
    names = {spec.ingest.api_keys_secret} if spec.ingest.api_keys_secret else set()
    for sink in spec.sinks:
        if sink.auth is not None:
            for secret in (sink.auth.bearer_token, sink.auth.username, sink.auth.password):
                if secret is not None:
                    names.add(secret.name)
    return sorted(names)


def _deployment_conditions(
    deployment: Object | None, pods: list[Object]
) -> tuple[ConditionUpdate, ConditionUpdate, dict[str, int]]:
    """Ready and Progressing from the Deployment's own status, and the replica counts;
    while pods are not Ready, the message says which and why."""
    if deployment is None:
        return (
            ConditionUpdate("Ready", "False", "DeploymentMissing", "the Deployment is not there"),
            ConditionUpdate("Progressing", "True", "Creating"),
            {},
        )
    spec_replicas = int(deployment.get("spec", {}).get("replicas", 1))
    status = deployment.get("status", {})
    counts = {
        "replicas": int(status.get("replicas", 0)),
        "readyReplicas": int(status.get("readyReplicas", 0)),
    }
    available = int(status.get("availableReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    current = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
    if current and available >= spec_replicas and updated >= spec_replicas:
        return (
            ConditionUpdate(
                "Ready", "True", "Available", f"{available}/{spec_replicas} pods ready"
            ),
            ConditionUpdate("Progressing", "False", "Complete"),
            counts,
        )
    message = f"{available}/{spec_replicas} pods available, {updated} updated"
    if why := pod_health.unready_pods(pods):
        message = f"{message}; {why}"
    return (
        ConditionUpdate("Ready", "False", "PodsNotReady", message),
        ConditionUpdate("Progressing", "True", "RollingOut", message),
        counts,
    )


def _write_status(kube: Kube, body: Mapping[str, Any], status: dict[str, Any]) -> None:
    """Applies the status only when it differs from what the object already says."""
    if status_changed(body.get("status"), status):
        meta = body["metadata"]
        kube.apply_status(body["kind"], meta["namespace"], meta["name"], status)


def _status(
    body: Mapping[str, Any], updates: list[ConditionUpdate], **fields: Any
) -> dict[str, Any]:
    generation = int(body["metadata"].get("generation", 0))
    current = (body.get("status") or {}).get("conditions", [])
    return {
        "observedGeneration": generation,
        "conditions": merge_conditions(current, updates, generation, _now()),
        **fields,
    }


COLLECTOR_PRUNABLE_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
"""Kinds a collector's spec change can make unwanted (monitor kind switched, alerting off)."""
SLO_PRUNABLE_KINDS = ("PrometheusRule",)
"""An SLO owns nothing else; a rule whose name changed is the one to prune."""


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
    kube: Kube, owner: Owner, children: list[Object], *, prune: tuple[str, ...]
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


def _applied_outcome(
    kube: Kube, body: Mapping[str, Any], status: dict[str, Any], applied: Applied
) -> Outcome:
    """Writes the status; children that could not be created also become a Warning event."""
    _write_status(kube, body, status)
    outcome = Outcome(applied=applied.written)
    if applied.skipped:
        degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
        outcome.warnings.append((degraded["reason"], degraded["message"]))
    return outcome


def correct_drift(kube: Kube, desired: list[Object], child: Object, deleted: bool) -> str | None:
    """Re-applies one child if it was deleted or no longer carries what Pulse applied."""
    match = [d for d in desired if ref(d) == ref(child)]
    if not match or (not deleted and drift.contains(child, match[0])):
        return None
    kube.apply(match[0])
    return ref(match[0])


def _pods_if_unready(kube: Kube, owner: Owner, deployment: Object | None) -> list[Object]:
    """The Deployment's pods when some are not ready (to say why), else none: a healthy
    collector costs no pod listing."""
    if deployment is None:
        return []
    status = deployment.get("status", {})
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    counts = ("readyReplicas", "availableReplicas", "updatedReplicas")
    if all(int(status.get(count, 0)) >= wanted for count in counts):
        return []
    selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return kube.list_pods(owner.namespace, selector) or []


def _collector_status(
    body: Mapping[str, Any],
    spec: MetricsCollectorSpec,
    children: list[Object],
    skipped: list[str],
    deployment: Object | None,
    pods: list[Object],
) -> dict[str, Any]:
    ready, progressing, counts = _deployment_conditions(deployment, pods)
    if skipped:
        degraded = ConditionUpdate(
            "Degraded",
            "True",
            "PrometheusOperatorMissing",
            f"not created, their CRDs are not installed: {', '.join(skipped)}",
        )
    else:
        degraded = ConditionUpdate("Degraded", "False", "AsExpected")
    return _status(
        body,
        [ready, progressing, degraded],
        children=[ref(c) for c in children if ref(c) not in skipped],
        sinks=len(spec.sinks),
        **counts,
    )


def reconcile_collector(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool = True
) -> Outcome:
    """Brings one MetricsCollector's children to what its spec says, and reports it."""
    owner = owner_of(body)
    try:
        spec, children = parse_and_render_collector(owner_of(body), body.get("spec"), settings)
    except validation.SpecError as error:
        return _failed(kube, body, "InvalidSpec", str(error), permanent=True)
    missing = [
        name
        for name in _referenced_secrets(spec)
        if not kube.exists("Secret", owner.namespace, name)
    ]
    if missing:
        message = f"Secret(s) {', '.join(missing)} not found in namespace {owner.namespace}"
        outcome = _failed(kube, body, "SecretMissing", message, permanent=False)
        outcome.retry_after = SECRET_RETRY_SECONDS
        return outcome
    applied = apply_children(kube, owner, children, prune=COLLECTOR_PRUNABLE_KINDS if prune else ())
    deployment = applied.live.get(f"Deployment/{owner.name}")
    pods = _pods_if_unready(kube, owner, deployment)
    status = _collector_status(body, spec, children, applied.skipped, deployment, pods)
    return _applied_outcome(kube, body, status, applied)


def collector_child_changed(
    kube: Kube,
    settings: OperatorSettings,
    body: Mapping[str, Any],
    child: Object,
    deleted: bool,
) -> Outcome | None:
    """A child of this MetricsCollector changed: restore it if it drifted, and refresh the
    status when the Deployment's status moved. None when there is nothing to report."""
    try:
        spec, children = parse_and_render_collector(owner_of(body), body.get("spec"), settings)
    except validation.SpecError:
        return None  # the owner's own handler has reported it; the children stay as they are
    corrected = correct_drift(kube, children, child, deleted)
    if child["kind"] != "Deployment" and corrected is None:
        return None
    _refresh_collector_status(kube, body, spec, children)
    return Outcome(applied=[corrected] if corrected else [])


def refresh_collector_status(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any]
) -> None:
    """Re-reads the Deployment and its pods and rewrites the status if it moved: a pod
    going from ContainerCreating to CrashLoopBackOff changes no Deployment field, so no
    child event would tell."""
    try:
        spec, children = parse_and_render_collector(owner_of(body), body.get("spec"), settings)
    except validation.SpecError:
        return
    _refresh_collector_status(kube, body, spec, children)


def _refresh_collector_status(
    kube: Kube, body: Mapping[str, Any], spec: MetricsCollectorSpec, children: list[Object]
) -> None:
    owner = owner_of(body)
    deployment = kube.get("Deployment", owner.namespace, owner.name)  # newer than any event
    skipped = [ref(c) for c in children if not kube.serves(c["apiVersion"], c["kind"])]
    pods = _pods_if_unready(kube, owner, deployment)
    status = _collector_status(body, spec, children, skipped, deployment, pods)
    _write_status(kube, body, status)


def _failed(
    kube: Kube, body: Mapping[str, Any], reason: str, message: str, *, permanent: bool
) -> Outcome:
    """Reports a problem without touching the children: what was working keeps working."""
    kept = " The last applied configuration stays in place."
    status = _status(
        body,
        [
            ConditionUpdate("Ready", "False", reason, message),
            ConditionUpdate("Progressing", "False", reason),
            ConditionUpdate("Degraded", "True", reason, message + kept),
        ],
    )
    _write_status(kube, body, status)
    outcome = Outcome(warnings=[(reason, message)])
    if permanent:
        outcome.permanent_error = message
    return outcome


def _render_slo(body: Mapping[str, Any]) -> tuple[SLOSpec, list[Object]]:
    """Raises SpecError (the models) or promql.InvalidPromQLError (the queries)."""
    spec = validation.parse_spec(SLOSpec, body.get("spec"))
    return spec, render_slo(owner_of(body), spec)


def _slo_status(
    body: Mapping[str, Any], spec: SLOSpec, children: list[Object], served: bool
) -> dict[str, Any]:
    rules = len(children[0]["spec"]["groups"][0]["rules"])
    if served:
        updates = [
            ConditionUpdate(
                "Ready", "True", "RulesApplied", f"{rules} rules in {ref(children[0])}"
            ),
            ConditionUpdate("Progressing", "False", "Complete"),
            ConditionUpdate("Degraded", "False", "AsExpected"),
        ]
    else:
        message = "the PrometheusRule CRD (Prometheus Operator) is not installed"
        updates = [
            ConditionUpdate("Ready", "False", "PrometheusOperatorMissing", message),
            ConditionUpdate("Progressing", "False", "PrometheusOperatorMissing"),
            ConditionUpdate("Degraded", "True", "PrometheusOperatorMissing", message),
        ]
    return _status(
        body,
        updates,
        children=[ref(c) for c in children] if served else [],
        sliKind=spec.sli.kind,
        rules=rules,
        burnRateWindows=window_table(spec),
    )


def reconcile_slo(
    kube: Kube, settings: OperatorSettings, body: Mapping[str, Any], *, prune: bool = True
) -> Outcome:
    """Brings one SLO's PrometheusRule to what its spec says, and reports it."""
    try:
        spec, children = _render_slo(body)
    except validation.SpecError as error:
        return _failed(kube, body, "InvalidSpec", str(error), permanent=True)
    except promql.InvalidPromQLError as error:
        return _failed(kube, body, "InvalidPromQL", str(error), permanent=True)
    applied = apply_children(
        kube, owner_of(body), children, prune=SLO_PRUNABLE_KINDS if prune else ()
    )
    status = _slo_status(body, spec, children, served=not applied.skipped)
    return _applied_outcome(kube, body, status, applied)


def slo_child_changed(
    kube: Kube,
    settings: OperatorSettings,
    body: Mapping[str, Any],
    child: Object,
    deleted: bool,
) -> Outcome | None:
    """The SLO's PrometheusRule changed: restore it if it drifted or was deleted."""
    try:
        _, children = _render_slo(body)
    except (validation.SpecError, promql.InvalidPromQLError):
        return None  # the SLO's own handler reported it; the last good rule stays
    corrected = correct_drift(kube, children, child, deleted)
    if corrected is None:
        return None
    return Outcome(applied=[corrected])
