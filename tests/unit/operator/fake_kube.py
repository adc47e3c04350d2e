"""An in-memory `reconcile.Kube` that behaves like the API server where reconciliation
relies on it, for fast unit tests of reconcile logic (never instead of the integration
tests against the real control plane).

What it keeps of the real thing:
- server-side apply by field ownership: Pulse's apply sets the fields it names (forcing
  conflicts), and a field Pulse applied before but no longer names is removed unless
  another manager also set it; fields only others set stay;
- the status subresource: `apply` ignores `status`, `apply_status` writes only status;
  the status of Pulse's own kinds is pruned to the CRD's structural schema, as the API
  server does, so a misspelt status field is lost here too;
- uid, resourceVersion (moves only when the object changes), generation (moves when
  anything but metadata and status changes), ownerReferences as given;
- listing by labels and controller uid, pods by selector, discovery of served kinds.

Every call that could write is recorded in `requests`; `changes` has those that did.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pulse_operator.api.kinds import KINDS
from pulse_operator.api.objects import MANAGED_BY_LABEL, Object, Owner, RejectedError, ref

REPO = Path(__file__).resolve().parents[3]
PULSE = "pulse-operator"
Leaf = tuple[str, ...]
Key = tuple[str, str, str]


def _crd_status_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in (REPO / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        version = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schemas[crd["spec"]["names"]["kind"]] = version["properties"]["status"]
    return schemas


STATUS_SCHEMAS = _crd_status_schemas()


def prune(value: Any, schema: Mapping[str, Any]) -> Any:
    """What the API server keeps of `value` under a structural schema."""
    if isinstance(value, dict) and "properties" in schema:
        return {
            k: prune(v, schema["properties"][k])
            for k, v in value.items()
            if k in schema["properties"]
        }
    if isinstance(value, list) and "items" in schema:
        return [prune(item, schema["items"]) for item in value]
    return value


def _leaves(value: Any, prefix: Leaf = ()) -> dict[Leaf, Any]:
    """Field paths to their values; lists are atomic (Pulse always renders them whole)."""
    if isinstance(value, dict) and value:
        found: dict[Leaf, Any] = {}
        for key, child in value.items():
            found.update(_leaves(child, (*prefix, key)))
        return found
    return {prefix: value}


def _set(obj: dict[str, Any], path: Leaf, value: Any) -> None:
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(value)


def _remove(obj: dict[str, Any], path: Leaf) -> None:
    """Removes a field, and the objects it leaves empty."""
    parents = [obj]
    for key in path[:-1]:
        child = parents[-1].get(key)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 2, -1, -1):
        if parents[depth + 1] == {}:
            parents[depth].pop(path[depth], None)


@dataclass
class Stored:
    obj: Object
    owners: dict[Leaf, set[str]] = field(default_factory=dict)
    """Which managers set each field of the object outside metadata.name/namespace."""


class FakeKube:
    """See the module docstring."""

    def __init__(self) -> None:
        self.objects: dict[Key, Stored] = {}
        self.requests: list[str] = []
        """'apply Kind/name', 'status Kind/name', 'delete Kind/name', in order."""
        self.changes: list[str] = []
        self.unserved: set[str] = set()
        """Kinds the server does not serve (e.g. Prometheus Operator's)."""
        self.pods_forbidden = False
        self.readers_forbidden = False
        self.namespaces: dict[str, dict[str, str]] | None = {}
        """Namespace -> its labels; None when reading namespaces is forbidden."""
        self.refuse: dict[str, str] = {}
        """Kind/name -> the message with which the server refuses to store it (422)."""
        self._versions = itertools.count(1)

    # --- the Kube interface --------------------------------------------------------

    def apply(self, obj: Object) -> Object:
        self._served(obj["kind"])
        self.requests.append(f"apply {ref(obj)}")
        if ref(obj) in self.refuse:
            raise RejectedError(ref(obj), 422, self.refuse[ref(obj)])
        intent = {k: v for k, v in copy.deepcopy(obj).items() if k != "status"}
        self._write(intent, PULSE, replace_owned=True)
        return self._copy(self._key(obj))

    def is_own_apply(self, metadata: Mapping[str, Any]) -> bool:
        return False  # the fake's tests call child handlers directly: every event is news

    def forget(self, uid: str) -> None:
        return None

    def apply_status(self, kind_name: str, namespace: str, name: str, status: Object) -> None:
        self.requests.append(f"status {kind_name}/{name}")
        stored = self.objects[(kind_name, namespace, name)]  # KeyError: 404, as the server
        kept = prune(copy.deepcopy(status), STATUS_SCHEMAS.get(kind_name, {}))
        if stored.obj.get("status") != kept:
            stored.obj["status"] = kept
            self._bump(stored, f"status {kind_name}/{name}")

    def get(self, kind_name: str, namespace: str, name: str) -> Object | None:
        key = (kind_name, namespace, name)
        return self._copy(key) if key in self.objects else None

    def metadata(self, kind_name: str, namespace: str, name: str) -> Object | None:
        key = (kind_name, namespace, name)
        if key not in self.objects:
            return None
        obj = self.objects[key].obj
        return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                "metadata": copy.deepcopy(obj["metadata"])}  # fmt: skip

    def exists(self, kind_name: str, namespace: str, name: str) -> bool:
        return (kind_name, namespace, name) in self.objects

    def list_owned(self, kind_name: str, owner: Owner) -> list[Object]:
        return [
            self._copy(key)
            for key, stored in self.objects.items()
            if key[0] == kind_name
            and key[1] == owner.namespace
            and _labels(stored.obj).get(MANAGED_BY_LABEL) == PULSE
            and _labels(stored.obj).get("app.kubernetes.io/instance") == owner.name
            and any(
                r.get("uid") == owner.uid and r.get("controller")
                for r in stored.obj["metadata"].get("ownerReferences", [])
            )
        ]

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[Object] | None:
        if self.pods_forbidden:
            return None
        return [
            self._copy(key)
            for key, stored in self.objects.items()
            if key[0] == "Pod"
            and key[1] == namespace
            and all(_labels(stored.obj).get(k) == v for k, v in selector.items())
        ]

    def delete(self, kind_name: str, namespace: str, name: str) -> None:
        self.requests.append(f"delete {kind_name}/{name}")
        if self.objects.pop((kind_name, namespace, name), None) is not None:
            self.changes.append(f"delete {kind_name}/{name}")

    def serves(self, api_version: str, kind_name: str) -> bool:
        return kind_name not in self.unserved and KINDS[kind_name].api_version == api_version

    def readers(self) -> list[Object] | None:
        if self.readers_forbidden:
            return None
        return [
            self._copy(key)
            for key in sorted(self.objects)
            if key[0] in ("Prometheus", "ThanosRuler") and key[0] not in self.unserved
        ]

    def forget_readers(self) -> None:
        return None  # nothing is cached

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        if self.namespaces is None:
            return None
        return dict(self.namespaces.get(name, {}))

    # --- what tests do as other writers ----------------------------------------------

    def create(self, obj: Object, manager: str = "kubectl") -> Object:
        """Another client creates an object (an owner, a Secret, a pod)."""
        self._write(copy.deepcopy(obj), manager, replace_owned=False)
        return self._copy(self._key(obj))

    def edit(self, kind_name: str, namespace: str, name: str, change: Callable[[Object], None],
             manager: str = "kubectl") -> None:  # fmt: skip
        """Another manager changes an object (kubectl edit): the fields it sets become its."""
        edited = self._copy((kind_name, namespace, name))
        change(edited)
        stored = self.objects[(kind_name, namespace, name)]
        before = _leaves(_content(stored.obj))
        after = _leaves(_content(edited))
        for path in before.keys() - after.keys():
            stored.owners.pop(path, None)
        for path, value in after.items():
            if before.get(path) != value:
                stored.owners[path] = {manager}
        if _content(edited) != _content(stored.obj):
            meta = stored.obj["metadata"]
            stored.obj = {**edited, "metadata": {**edited["metadata"], "uid": meta["uid"]}}
            self._touch(stored.obj, manager, "Update")
            self._bump(stored, f"edit {kind_name}/{name}", content_changed=True)

    def set_status(self, kind_name: str, namespace: str, name: str, status: Object) -> None:
        """A controller (the Deployment controller, the kubelet) reports status."""
        stored = self.objects[(kind_name, namespace, name)]
        stored.obj["status"] = copy.deepcopy(status)
        self._bump(stored, f"controller-status {kind_name}/{name}")

    def remove(self, kind_name: str, namespace: str, name: str) -> Object:
        """Someone deletes an object; returns it as the watch's DELETED event carries it."""
        return self.objects.pop((kind_name, namespace, name)).obj

    # --- internals -----------------------------------------------------------------

    def _served(self, kind_name: str) -> None:
        if kind_name in self.unserved:
            raise LookupError(f"the server could not find the requested resource ({kind_name})")

    @staticmethod
    def _key(obj: Object) -> Key:
        meta = obj["metadata"]
        return (obj["kind"], meta.get("namespace", ""), meta["name"])

    def _copy(self, key: Key) -> Object:
        return copy.deepcopy(self.objects[key].obj)

    def _write(self, intent: Object, manager: str, *, replace_owned: bool) -> None:
        key = self._key(intent)
        stored = self.objects.get(key)
        if stored is None:
            meta = intent["metadata"]
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["generation"] = 1
            self._touch(intent, manager, _operation(replace_owned))
            stored = Stored(obj=intent)
            stored.owners = {path: {manager} for path in _leaves(_content(intent))}
            self.objects[key] = stored
            self._bump(stored, f"create {key[0]}/{key[2]}")
            return
        new = _leaves(_content(intent))
        self._touch(stored.obj, manager, _operation(replace_owned))
        before = copy.deepcopy(stored.obj)
        if replace_owned:  # fields this manager applied before and no longer names
            for path, managers in list(stored.owners.items()):
                if manager in managers and path not in new:
                    managers.discard(manager)
                    if not managers:
                        del stored.owners[path]
                        _remove(stored.obj, path)
        for path, value in new.items():
            _set(stored.obj, path, value)
            stored.owners[path] = {manager}  # forced: conflicts go to the applier
        if stored.obj != before:
            content_changed = _content(stored.obj, spec_only=True) != _content(
                before, spec_only=True
            )
            self._bump(stored, f"apply {key[0]}/{key[2]}", content_changed=content_changed)

    def _touch(self, obj: Object, manager: str, operation: str) -> None:
        """managedFields as the server keeps them: one entry per manager, with the time
        of its last write (here a counter that sorts like one)."""
        entries = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] != manager]
        when = f"2026-01-01T00:00:{next(self._versions):06d}Z"
        obj["metadata"]["managedFields"] = [
            *entries,
            {"manager": manager, "operation": operation, "time": when},
        ]

    def _bump(self, stored: Stored, change: str, *, content_changed: bool = False) -> None:
        meta = stored.obj["metadata"]
        meta["resourceVersion"] = str(next(self._versions))
        if content_changed:
            meta["generation"] = int(meta.get("generation", 1)) + 1
        self.changes.append(change)


def _content(obj: Object, *, spec_only: bool = False) -> Object:
    """The object without status and the server's bookkeeping; with `spec_only`, also
    without metadata (what moves the generation)."""
    skip = {"status", "metadata"} if spec_only else {"status"}
    content = {k: v for k, v in obj.items() if k not in skip}
    if not spec_only:
        meta = {
            k: v
            for k, v in obj["metadata"].items()
            if k not in ("uid", "resourceVersion", "generation", "managedFields")
        }
        content["metadata"] = meta
    return content


def _operation(applied: bool) -> str:
    return "Apply" if applied else "Update"


def _labels(obj: Object) -> dict[str, str]:
    labels: dict[str, str] = obj["metadata"].get("labels", {})
    return labels
