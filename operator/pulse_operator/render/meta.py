"""Labels, names and owner references that every child carries (see the contracts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulse_operator.crdgen import GROUP, VERSION

MANAGED_BY = "pulse-operator"
MANAGED_BY_SELECTOR = f"app.kubernetes.io/managed-by={MANAGED_BY}"


@dataclass(frozen=True)
class Owner:
    """The identity of the Pulse resource that owns a set of children."""

    kind: str
    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def selector_labels(owner: Owner, component: str) -> dict[str, str]:
    """The labels a Deployment selects its pods by: stable for the owner's lifetime."""
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": owner.name}


def child_labels(owner: Owner, component: str) -> dict[str, str]:
    return {
        **selector_labels(owner, component),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "pulse",
    }


def child_metadata(
    owner: Owner,
    component: str,
    name: str,
    *,
    extra_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata for one child: name, namespace, the contract's labels, the ownerReference."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**(extra_labels or {}), **child_labels(owner, component)},
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        metadata["annotations"] = annotations
    return metadata
