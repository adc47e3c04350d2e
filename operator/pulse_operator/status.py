"""Status the Kubernetes way, computed purely from what reconciliation saw.

Built from the status models, so a misspelt field fails here instead of being pruned by
the structural schema (which would make every reconcile rewrite the status); the same
inputs give the same status, so an unchanged status means no write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulse_operator import pod_health
from pulse_operator.api.common import Condition, ConditionStatus, ConditionType, ResourceStatus
from pulse_operator.api.metricscollector import MetricsCollectorSpec, MetricsCollectorStatus
from pulse_operator.api.objects import Object, ref
from pulse_operator.api.slo import SLOSpec
from pulse_operator.api.slo_status import SLOStatus
from pulse_operator.selection import Selection
from pulse_operator.slo.rules import window_table

KEPT = " The last applied configuration stays in place."
"""Said of every failure: Pulse never tears down what was working because of a bad edit."""


@dataclass(frozen=True)
class ConditionUpdate:
    """The new truth of one condition."""

    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Observed:
    """What every status is computed against: the object as read, and the time."""

    body: Mapping[str, Any]
    now: str
    """RFC 3339, when a condition's status changes."""

    @property
    def generation(self) -> int:
        return int(self.body["metadata"].get("generation", 0))

    def conditions(self, updates: Sequence[ConditionUpdate]) -> list[Condition]:
        """The conditions after `updates`; lastTransitionTime only moves when status does."""
        previous = {c.get("type"): c for c in (self.body.get("status") or {}).get("conditions", [])}
        merged = []
        for update in updates:
            before = previous.get(update.type) or {}
            same = before.get("status") == update.status
            merged.append(
                Condition(
                    type=update.type,
                    status=update.status,
                    reason=update.reason,
                    message=update.message,
                    last_transition_time=before.get("lastTransitionTime", self.now)
                    if same
                    else self.now,
                    observed_generation=self.generation,
                )
            )
        return merged


def document(status: ResourceStatus) -> Object:
    """The status as the API server stores it: camelCase, only the fields that were set."""
    return status.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)


def changed(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing `desired` would change anything the operator owns."""
    current = current or {}
    return any(current.get(key) != value for key, value in desired.items())


LIVE_CONDITIONS = ("Loaded", "DataPresent")
"""The conditions only a Prometheus can tell, with the SLO's `live` numbers: the live
refresh writes them, and every other status write carries them over as they are (one
field manager owns the whole status, so a write that left them out would remove them)."""
LIVE_FIELDS = ("live",)


def keep_live(current: Mapping[str, Any] | None, document: Object) -> Object:
    """`document` with the live conditions and numbers of the `current` status."""
    current = current or {}
    kept = [c for c in current.get("conditions", []) if c.get("type") in LIVE_CONDITIONS]
    own = [c for c in document.get("conditions", []) if c.get("type") not in LIVE_CONDITIONS]
    merged = {**document, "conditions": own + kept}
    merged.update({key: current[key] for key in LIVE_FIELDS if key in current})
    return merged


def with_live(
    observed: Observed,
    model: type[ResourceStatus],
    updates: Sequence[ConditionUpdate],
    live: Object | None,
) -> Object:
    """The status as it stands, with its live conditions and numbers replaced: what the
    live refresh writes (fields the model does not know are left out)."""
    current = _known(observed.body.get("status"), model)
    conditions = [c for c in current.get("conditions", []) if c.get("type") not in LIVE_CONDITIONS]
    new = [c.model_dump(by_alias=True, exclude_none=True) for c in observed.conditions(updates)]
    document = {k: v for k, v in current.items() if k not in LIVE_FIELDS}
    document["conditions"] = conditions + new
    if live:
        document["live"] = live
    return document


def live_changed(
    current: Mapping[str, Any] | None, document: Object, model: type[ResourceStatus]
) -> bool:
    """Whether writing `document` (from with_live) changes the status, removals included."""

    def normal(status: Mapping[str, Any]) -> Object:
        by_type = {c.get("type"): c for c in status.get("conditions", [])}
        return {**status, "conditions": by_type}

    return normal(_known(current, model)) != normal(document)


def _known(status: Mapping[str, Any] | None, model: type[ResourceStatus]) -> Object:
    names = {info.alias or name for name, info in model.model_fields.items()}
    return {k: v for k, v in (status or {}).items() if k in names}


def blocked(body: Mapping[str, Any]) -> bool:
    """Whether the status reports a failure of this generation that only a full
    reconciliation can clear (an invalid spec, a missing Secret, a refused child): a
    child's event must not overwrite it with the Deployment's view."""
    current = body.get("status") or {}
    generation = int(body["metadata"].get("generation", 0))
    return any(
        c.get("type") == "Degraded" and c.get("status") == "True"
        and c.get("reason") in BLOCKING_REASONS and c.get("observedGeneration") == generation
        for c in current.get("conditions", [])
    )  # fmt: skip


BLOCKING_REASONS = frozenset(
    {"InvalidSpec", "InvalidPromQL", "SecretMissing", "ChildRejected", "NameConflict"}
)
"""The reasons `failed` reports with."""


def failed(observed: Observed, reason: str, message: str) -> ResourceStatus:
    """A problem that blocks reconciling: not Ready, not progressing, Degraded."""
    assert reason in BLOCKING_REASONS, reason
    return ResourceStatus(
        observed_generation=observed.generation,
        conditions=observed.conditions(
            [
                ConditionUpdate("Ready", "False", reason, message),
                ConditionUpdate("Progressing", "False", reason),
                ConditionUpdate("Degraded", "True", reason, message + KEPT),
            ]
        ),
    )


def _deployment_conditions(
    deployment: Object | None, pods: Sequence[Object]
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
        "ready_replicas": int(status.get("readyReplicas", 0)),
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
    if failure := _replica_failure(deployment):
        message = f"{message}; the ReplicaSet cannot create pods: {failure}"
        reason = "FailedCreate"
    else:
        reason = "PodsNotReady"
        if why := pod_health.unready_pods(pods):
            message = f"{message}; {why}"
    return (
        ConditionUpdate("Ready", "False", reason, message),
        ConditionUpdate("Progressing", "True", "RollingOut", message),
        counts,
    )


def _replica_failure(deployment: Object) -> str:
    """The Deployment controller's ReplicaFailure message (a pod the ReplicaSet cannot
    create: an invalid image reference, a quota), or empty."""
    for condition in deployment.get("status", {}).get("conditions", []):
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return str(condition.get("message") or condition.get("reason", "FailedCreate"))
    return ""


def _selected(selection: Selection | None) -> list[ConditionUpdate]:
    """The Selected condition, when the owner has anything a Prometheus selects."""
    if selection is None:
        return []
    return [ConditionUpdate("Selected", selection.status, selection.reason, selection.message)]


def collector_status(
    observed: Observed,
    spec: MetricsCollectorSpec,
    children: Sequence[Object],
    skipped: Sequence[str],
    deployment: Object | None,
    pods: Sequence[Object],
    fights: Sequence[str] = (),
    selection: Selection | None = None,
) -> MetricsCollectorStatus:
    """Ready from the Deployment and its pods; Degraded when the ReplicaSet cannot create
    pods, when another writer fights over a child (`fights`: their messages), or when
    children could not be created because their kinds are not served; Selected from
    `selection` (whether a Prometheus loads the rules and the monitor)."""
    ready, progressing, counts = _deployment_conditions(deployment, pods)
    if ready.reason == "FailedCreate":
        degraded = ConditionUpdate("Degraded", "True", "FailedCreate", ready.message)
    elif fights:
        degraded = ConditionUpdate("Degraded", "True", "WriteConflict", "; ".join(fights))
    elif skipped:
        degraded = ConditionUpdate(
            "Degraded",
            "True",
            "PrometheusOperatorMissing",
            f"not created, their CRDs are not installed: {', '.join(skipped)}",
        )
    else:
        degraded = ConditionUpdate("Degraded", "False", "AsExpected")
    return MetricsCollectorStatus(
        observed_generation=observed.generation,
        conditions=observed.conditions([ready, progressing, degraded, *_selected(selection)]),
        children=[ref(c) for c in children if ref(c) not in skipped],
        sinks=len(spec.sinks),
        **counts,
    )


def slo_status(
    observed: Observed,
    spec: SLOSpec,
    rule: Object,
    served: bool,
    fights: Sequence[str] = (),
    selection: Selection | None = None,
) -> SLOStatus:
    """Ready when the PrometheusRule is applied (Degraded while another writer fights
    over it), Selected from `selection`; the window table either way."""
    rules = len(rule["spec"]["groups"][0]["rules"])
    if served and fights:
        updates = [
            ConditionUpdate("Ready", "True", "RulesApplied", f"{rules} rules in {ref(rule)}"),
            ConditionUpdate("Progressing", "False", "Complete"),
            ConditionUpdate("Degraded", "True", "WriteConflict", "; ".join(fights)),
        ]
    elif served:
        updates = [
            ConditionUpdate("Ready", "True", "RulesApplied", f"{rules} rules in {ref(rule)}"),
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
    return SLOStatus(
        observed_generation=observed.generation,
        conditions=observed.conditions([*updates, *_selected(selection)]),
        children=[ref(rule)] if served else [],
        sli_kind=spec.sli.kind,
        rules=rules,
        burn_rate_windows=window_table(spec),
    )
