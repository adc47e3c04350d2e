"""Labels, names and owner references that every child carries (see the contracts)."""

from __future__ import annotations

from typing import Any

from pulse_operator.api.objects import INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, Owner


def selector_labels(owner: Owner, component: str) -> dict[str, str]:
    """The labels a Deployment selects its pods by: stable for the owner's lifetime."""
    return {"app.kubernetes.io/name": component, INSTANCE_LABEL: owner.name}


def child_labels(owner: Owner, component: str) -> dict[str, str]:
    return {
        **selector_labels(owner, component),
        MANAGED_BY_LABEL: MANAGED_BY,
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
