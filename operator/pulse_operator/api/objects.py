"""Kubernetes objects as Pulse handles them, and the identity every child carries.

Neutral ground: the renderers (pure), the API client and reconciliation all speak of
objects as plain dicts and of their owner as an `Owner`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pulse_operator.api.crd import API_VERSION

Object = dict[str, Any]
"""A Kubernetes object as JSON: apiVersion, kind, metadata, and the rest."""

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "pulse-operator"
"""The value of MANAGED_BY_LABEL on every child: how watches and listings find them."""
MANAGED_BY_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"

COLLECTOR_COMPONENT = "pulse-collector"
"""app.kubernetes.io/name of a MetricsCollector's children (and its pods)."""
SLO_COMPONENT = "pulse-slo"
"""app.kubernetes.io/name of an SLO's PrometheusRule."""
COMPONENT_OWNERS = {COLLECTOR_COMPONENT: "MetricsCollector", SLO_COMPONENT: "SLO"}
"""The owner kind of a child, by its component label."""
INSTANCE_LABEL = "app.kubernetes.io/instance"
"""The owner's name, on every child."""


@dataclass(frozen=True)
class Owner:
    """The identity of the Pulse resource that owns a set of children."""

    kind: str
    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Owner:
        """The owner identity of a Pulse object as read from the API server."""
        meta = body["metadata"]
        return cls(
            kind=body["kind"], name=meta["name"], namespace=meta["namespace"], uid=meta["uid"]
        )

    def reference(self) -> dict[str, Any]:
        """The ownerReference each child carries: garbage collection follows it."""
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def ref(obj: Object) -> str:
    """Kind/name: how status, events and logs name an object."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


class RejectedError(Exception):
    """The API server refused to store an object as given (invalid, too large): only a
    new spec can help, so reconciliation reports it instead of retrying at full speed."""

    def __init__(self, obj_ref: str, code: int, message: str) -> None:
        super().__init__(f"{obj_ref}: {message}")
        self.ref = obj_ref
        self.code = code
        self.message = message


class NamespaceTerminatingError(Exception):
    """The namespace is being deleted, or is gone: nothing can be created in it, and
    everything in it is going away, so there is nothing to restore or report."""
