"""What reconciliation needs from the cluster: `pulse_operator.kube.KubeClient` on a real
API server, `tests/unit/operator/fake_kube.py` in unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pulse_operator.api.objects import Object, Owner


class Kube(Protocol):
    """Reads and server-side-apply writes of the kinds Pulse manages, under one field manager."""

    def apply(self, obj: Object) -> Object:
        """Server-side apply of the whole object, forcing conflicts; the object as stored."""
        ...

    def is_own_apply(self, metadata: Mapping[str, Any]) -> bool:
        """Whether the object is still exactly as this client's last apply left it."""
        ...

    def forget(self, uid: str) -> None:
        """Drops what is remembered of an object that is gone."""
        ...

    def apply_status(self, kind_name: str, namespace: str, name: str, status: Object) -> None:
        """Server-side apply of the status subresource."""
        ...

    def get(self, kind_name: str, namespace: str, name: str) -> Object | None:
        """The object, or None when it does not exist."""
        ...

    def metadata(self, kind_name: str, namespace: str, name: str) -> Object | None:
        """The object with its metadata only, or None when it does not exist."""
        ...

    def exists(self, kind_name: str, namespace: str, name: str) -> bool:
        """Whether the object exists (read as metadata only)."""
        ...

    def list_owned(self, kind_name: str, owner: Owner) -> list[Object]:
        """Objects of a kind that `owner` controls."""
        ...

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[Object] | None:
        """Pods matching a label selector, or None when listing pods is not allowed."""
        ...

    def delete(self, kind_name: str, namespace: str, name: str) -> None:
        """Deletes an object; one already gone is fine."""
        ...

    def serves(self, api_version: str, kind_name: str) -> bool:
        """Whether the API server serves this kind (Prometheus Operator's CRDs may be missing)."""
        ...

    def readers(self) -> list[Object] | None:
        """Every Prometheus and ThanosRuler whose kind is served, or None when listing
        them is not allowed."""
        ...

    def forget_readers(self) -> None:
        """Drops the remembered readers: one of them changed its selectors."""
        ...

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        """A namespace's labels, or None when reading namespaces is not allowed."""
        ...
