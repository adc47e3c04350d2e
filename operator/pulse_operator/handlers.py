"""kopf wiring: when to reconcile, and what only kopf can do (events, retries).

Handlers are thin. A Pulse resource is reconciled fully when it is created or changed
and when the operator starts. A child's own watch event re-checks just that child, so
one edited or deleted by hand is restored within seconds, and with nothing changing the
operator writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from pulse_operator import reconcile
from pulse_operator.kube import Kube, Object
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
    full: Callable[[Kube, OperatorSettings, Mapping[str, Any]], reconcile.Outcome]
    child: Callable[
        [Kube, OperatorSettings, Mapping[str, Any], Object, bool], reconcile.Outcome | None
    ]

    @property
    def index_name(self) -> str:
        """kopf passes each index to handlers as a keyword argument of this name."""
        return f"{self.plural}_by_name"


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


def build_registry(kube: Kube, settings: OperatorSettings) -> kopf.OperatorRegistry:
    """Every handler, in a registry of its own (no module-level state)."""
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
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330

    for owner_kind in OWNER_KINDS:
        _register_owner(registry, kube, settings, owner_kind)
    for group, version, plural, kind in CHILD_RESOURCES:
        _register_child_watch(registry, kube, settings, group, version, plural, kind)
    return registry


def _register_owner(
    registry: kopf.OperatorRegistry, kube: Kube, settings: OperatorSettings, owner: OwnerKind
) -> None:
    def reconcile_owner(body: kopf.Body, **_: Any) -> None:
        outcome = owner.full(kube, settings, body)
        _post_events(body, outcome, "Applied")
        if outcome.permanent_error is not None:
            raise kopf.PermanentError(outcome.permanent_error)
        if outcome.retry_after is not None:
            raise kopf.TemporaryError(str(outcome.warnings), delay=outcome.retry_after)

    for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
        on(GROUP, VERSION, owner.plural, registry=registry, id=f"reconcile-{owner.plural}")(
            reconcile_owner
        )

    def index_by_name(
        body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> dict[Any, Any]:
        return {(namespace, name): dict(body)}

    kopf.index(GROUP, VERSION, owner.plural, registry=registry, id=owner.index_name)(index_by_name)


def _register_child_watch(
    registry: kopf.OperatorRegistry,
    kube: Kube,
    settings: OperatorSettings,
    group: str,
    version: str,
    plural: str,
    kind: str,
) -> None:
    owners = {owner.kind: owner for owner in OWNER_KINDS}

    def on_child_event(body: kopf.Body, type: str | None, **kwargs: Any) -> None:
        if type is None:  # the initial listing; the owners' resume handlers cover it
            return
        child = {"apiVersion": f"{group}/{version}".lstrip("/"), "kind": kind, **dict(body)}
        for reference in body.get("metadata", {}).get("ownerReferences", []):
            owner = owners.get(reference.get("kind", ""))
            if owner is None or not reference.get("controller"):
                continue
            index: kopf.Index[Any, dict[str, Any]] = kwargs[owner.index_name]
            for owner_body in index.get((body["metadata"]["namespace"], reference["name"]), []):
                meta = owner_body["metadata"]
                if meta.get("uid") != reference.get("uid") or meta.get("deletionTimestamp"):
                    continue
                outcome = owner.child(kube, settings, owner_body, child, type == "DELETED")
                if outcome is not None:
                    _post_events(owner_body, outcome, "DriftCorrected")

    kopf.on.event(
        group,
        version,
        plural,
        registry=registry,
        id=f"children-{plural}",
        labels={"app.kubernetes.io/managed-by": MANAGED_BY},
    )(on_child_event)
