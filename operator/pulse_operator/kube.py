"""The one module that talks to the Kubernetes API server (besides kopf's own watching).

Every write is a server-side apply under one field manager, so Pulse owns exactly the
fields it sets and never overwrites what other controllers or people own elsewhere.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from pulse_operator import __version__
from pulse_operator.api.kinds import KINDS, RULE_READERS, api_root
from pulse_operator.api.objects import (
    MANAGED_BY_SELECTOR,
    NamespaceTerminatingError,
    Object,
    Owner,
    RejectedError,
    ref,
)

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
DISCOVERY_TTL_SECONDS = 30.0
"""How long a discovery answer is reused: CRDs installed later are seen within this."""
READERS_TTL_SECONDS = 60.0
"""How long the listed Prometheus and ThanosRuler objects are reused. The operator's watch
of them drops the list as soon as a selector changes; this bounds a missed event."""

log = logging.getLogger(__name__)


class KubeClient:
    """The `reconcile.Kube` interface on a real API server: apply, read and status-patch
    objects of the kinds Pulse manages."""

    def __init__(
        self, api_client: kubernetes.client.ApiClient, field_manager: str, *, cluster_wide: bool
    ) -> None:
        self._api = api_client
        self.field_manager = field_manager
        self._cluster_wide = cluster_wide
        """Whether the operator was given cluster-wide reads: a namespaced install's Roles
        cannot list Prometheus objects, and asking would only be refused."""
        self._discovery: dict[str, tuple[float, set[str]]] = {}
        self._discovery_lock = threading.Lock()
        self._readers: tuple[float, list[Object] | None] | None = None
        self._readers_lock = threading.Lock()
        self._namespaces_forbidden_logged = False
        self._readers_forbidden_logged = False
        self._applied_versions: dict[str, str] = {}
        """uid -> the resourceVersion this client's last apply left the object at (about
        200 bytes per child): the watch event of that version only echoes the apply."""

    @classmethod
    def from_environment(
        cls, field_manager: str, pool_size: int, *, cluster_wide: bool
    ) -> KubeClient:
        """In-cluster credentials when in a pod, else KUBECONFIG / ~/.kube/config."""
        configuration = kubernetes.client.Configuration()
        # kubernetes.config's loaders carry no type hints
        try:
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        configuration.connection_pool_maxsize = pool_size
        api_client = kubernetes.client.ApiClient(configuration)
        api_client.user_agent = f"pulse-operator/{__version__}"
        return cls(api_client, field_manager, cluster_wide=cluster_wide)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Object:
        method, url, headers, payload, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": accept, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(method, url, header_params=headers, body=payload)
        raw: bytes = response.response.data  # the urllib3 response, read in full
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=response.reason, body=raw.decode())
        data: Object = json.loads(raw or b"{}")
        return data

    def apply(self, obj: Object) -> Object:
        """Server-side apply; conflicts with other managers are forced (Pulse owns its
        children's fields) and the server's resulting object is returned. Raises
        RejectedError when the server refuses the object itself (invalid, too large)."""
        kind = KINDS[obj["kind"]]
        meta = obj["metadata"]
        try:
            live = self._call(
                "PATCH",
                f"{kind.collection(meta['namespace'])}/{meta['name']}",
                body=obj,
                query=[("fieldManager", self.field_manager), ("force", "true")],
                content_type=APPLY_CONTENT_TYPE,
            )
        except ApiException as error:
            if (rejected := _rejection(ref(obj), error)) is not None:
                raise rejected from error
            if namespace_going(error):
                raise NamespaceTerminatingError(meta["namespace"]) from error
            raise
        stored = live.get("metadata", {})
        if "uid" in stored and "resourceVersion" in stored:
            self._applied_versions[stored["uid"]] = stored["resourceVersion"]
        return live

    def is_own_apply(self, metadata: Mapping[str, Any]) -> bool:
        """Whether an object (as a watch event carries it) is exactly the version this
        client's last apply produced: it holds what was applied, so there is no drift to
        look for. Anything written since has a newer resourceVersion."""
        version = metadata.get("resourceVersion")
        return (
            version is not None and self._applied_versions.get(metadata.get("uid", "")) == version
        )

    def forget(self, uid: str) -> None:
        """The object is gone: its last applied version need not be remembered."""
        self._applied_versions.pop(uid, None)

    def apply_status(self, kind_name: str, namespace: str, name: str, status: Object) -> None:
        """Server-side apply of the status subresource (conditions merge by type)."""
        kind = KINDS[kind_name]
        self._call(
            "PATCH",
            f"{kind.collection(namespace)}/{name}/status",
            body={
                "apiVersion": kind.api_version,
                "kind": kind.kind,
                "metadata": {"name": name, "namespace": namespace},
                "status": status,
            },
            query=[("fieldManager", self.field_manager), ("force", "true")],
            content_type=APPLY_CONTENT_TYPE,
        )

    def get(self, kind_name: str, namespace: str, name: str) -> Object | None:
        """The object, or None when it does not exist."""
        try:
            return self._call("GET", f"{KINDS[kind_name].collection(namespace)}/{name}")
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def metadata(self, kind_name: str, namespace: str, name: str) -> Object | None:
        """The object's metadata only (PartialObjectMetadata), or None when it does not
        exist: enough to know whose it is, without bringing its contents (a Secret's
        data) into the operator."""
        try:
            found: Object = self._call(
                "GET", f"{KINDS[kind_name].collection(namespace)}/{name}", accept=METADATA_ONLY
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    def exists(self, kind_name: str, namespace: str, name: str) -> bool:
        """Whether the object exists, read as metadata only."""
        return self.metadata(kind_name, namespace, name) is not None

    def list_owned(self, kind_name: str, owner: Owner) -> list[Object]:
        """Objects of a kind that this owner controls: the server selects by the labels every
        child carries (managed-by, and instance = the owner's name), the uid settles it."""
        selector = f"{MANAGED_BY_SELECTOR},app.kubernetes.io/instance={owner.name}"
        items = self._call(
            "GET", KINDS[kind_name].collection(owner.namespace), query=[("labelSelector", selector)]
        ).get("items", [])
        kind = KINDS[kind_name]
        return [
            {"apiVersion": kind.api_version, "kind": kind.kind, **item}
            for item in items
            if any(
                r.get("uid") == owner.uid and r.get("controller")
                for r in item["metadata"].get("ownerReferences", [])
            )
        ]

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[Object] | None:
        """The pods matching `selector` (a Deployment's), or None when RBAC does not allow
        listing pods: they only add detail to a status, never decide it."""
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in sorted(selector.items())))]
        try:
            items: list[Object] = self._call(
                "GET", KINDS["Pod"].collection(namespace), query=query
            ).get("items", [])
        except ApiException as error:
            if error.status == 403:
                log.warning("cannot list pods to say why they are not Ready: %s", error.body)
                return None
            raise
        return items

    def delete(self, kind_name: str, namespace: str, name: str) -> None:
        """Deletes an object; one that is already gone is fine."""
        try:
            self._call("DELETE", f"{KINDS[kind_name].collection(namespace)}/{name}")
        except ApiException as error:
            if error.status != 404:
                raise

    def serves(self, api_version: str, kind_name: str) -> bool:
        """Whether the API server serves this kind (e.g. Prometheus Operator's CRDs),
        from a discovery answer at most DISCOVERY_TTL_SECONDS old."""
        with self._discovery_lock:
            cached = self._discovery.get(api_version)
            if cached is None or time.monotonic() - cached[0] > DISCOVERY_TTL_SECONDS:
                cached = (time.monotonic(), self._discover(api_version))
                self._discovery[api_version] = cached
        return kind_name in cached[1]

    def readers(self) -> list[Object] | None:
        """Every Prometheus and ThanosRuler in the cluster (of the kinds served), at most
        READERS_TTL_SECONDS old; None when RBAC forbids listing them or the install is
        namespaced: Selected is then Unknown, and nothing else is affected."""
        if not self._cluster_wide:
            return None
        with self._readers_lock:
            cached = self._readers
            if cached is None or time.monotonic() - cached[0] > READERS_TTL_SECONDS:
                cached = (time.monotonic(), self._list_readers())
                self._readers = cached
        return cached[1]

    def _list_readers(self) -> list[Object] | None:
        found: list[Object] = []
        for kind in RULE_READERS:
            if not self.serves(kind.api_version, kind.kind):
                continue
            try:
                items = self._call("GET", kind.collection(None)).get("items", [])
            except ApiException as error:
                if error.status == 403:
                    if not self._readers_forbidden_logged:  # stable: said once
                        self._readers_forbidden_logged = True
                        log.warning("cannot list %s to judge selection: %s", kind.plural,
                                    error.body)  # fmt: skip
                    return None
                raise
            found.extend({"apiVersion": kind.api_version, "kind": kind.kind, **item}
                         for item in items)  # fmt: skip
        return found

    def forget_readers(self) -> None:
        """A reader's selectors changed: the next `readers` lists them again."""
        with self._readers_lock:
            self._readers = None

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        """A namespace's labels (for a reader's namespace selector), or None when RBAC
        forbids reading namespaces or the namespace is gone."""
        try:
            found = self._call("GET", f"/api/v1/namespaces/{name}", accept=METADATA_ONLY)
        except ApiException as error:
            if error.status == 403 and not self._namespaces_forbidden_logged:
                self._namespaces_forbidden_logged = True
                log.warning("cannot read namespaces' labels to judge selection: %s", error.body)
            if error.status in (403, 404):
                return None
            raise
        return dict(found.get("metadata", {}).get("labels") or {})

    def _discover(self, api_version: str) -> set[str]:
        try:
            resources = self._call("GET", api_root(api_version)).get("resources", [])
        except ApiException as error:
            if error.status == 404:
                return set()
            raise
        return {r["kind"] for r in resources if "/" not in r.get("name", "")}


REJECTED_CODES = {400, 413, 422}
"""Bad request, too large, invalid: the object as rendered can never be stored."""


def namespace_going(error: ApiException) -> bool:
    """Whether an apply failed because its namespace is being deleted (403) or already
    is (404 naming the namespace, not the object: a watch event can outlive it)."""
    body = str(error.body or "")
    if error.status == 403:
        return "being terminated" in body
    if error.status != 404:
        return False
    try:
        details = json.loads(body).get("details") or {}
    except (ValueError, AttributeError):
        return False
    return bool(details.get("kind") == "namespaces")


def _rejection(obj_ref: str, error: ApiException) -> RejectedError | None:
    """The API server's refusal of the object itself, in its own words, or None for a
    failure that may pass (a conflict, throttling, the server being unavailable)."""
    try:
        message = str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        message = str(error.body or error.reason)
    too_large = error.status == 500 and "too large" in message
    if error.status in REJECTED_CODES or too_large:
        return RejectedError(obj_ref, int(error.status), message)
    return None
