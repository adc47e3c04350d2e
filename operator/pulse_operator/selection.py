"""Whether some Prometheus would load what Pulse applied, judged as Prometheus Operator does.

Prometheus Operator loads a PrometheusRule into a Prometheus (or a ThanosRuler) only when
the rule's labels match the reader's `ruleSelector` and the rule's namespace matches its
`ruleNamespaceSelector`; ServiceMonitors and PodMonitors likewise, by their own pair of
selectors. An unset selector selects nothing; an unset namespace selector means the
reader's own namespace only; `{}` selects everything. A rule nobody selects is applied,
Ready, and never evaluated: this module says so, and why, against the closest reader.

Pure: the children, the readers and the namespace's labels in, one condition out, stable
while nothing changes (so the status it lands in is not rewritten).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulse_operator.api.common import ConditionStatus

Labels = Mapping[str, str]
Selector = Mapping[str, Any]
"""A metav1.LabelSelector as JSON: matchLabels and matchExpressions."""


@dataclass(frozen=True)
class SelectorPair:
    """The two fields of a reader that pick one kind of child."""

    selector: str
    namespace_selector: str


SELECTORS: dict[tuple[str, str], SelectorPair] = {
    ("Prometheus", "PrometheusRule"): SelectorPair("ruleSelector", "ruleNamespaceSelector"),
    ("ThanosRuler", "PrometheusRule"): SelectorPair("ruleSelector", "ruleNamespaceSelector"),
    ("Prometheus", "ServiceMonitor"): SelectorPair(
        "serviceMonitorSelector", "serviceMonitorNamespaceSelector"
    ),
    ("Prometheus", "PodMonitor"): SelectorPair("podMonitorSelector", "podMonitorNamespaceSelector"),
}
"""Which reader kind loads which child kind, through which spec fields."""

SELECTABLE_KINDS = frozenset(child for _, child in SELECTORS)
SELECTOR_FIELDS = tuple(
    sorted({f for pair in SELECTORS.values() for f in (pair.selector, pair.namespace_selector)})
)
"""The reader spec fields a verdict depends on: nothing else of a Prometheus matters here."""

NOUNS = {
    "PrometheusRule": "rules",
    "ServiceMonitor": "ServiceMonitors",
    "PodMonitor": "PodMonitors",
}


def selector_fingerprint(reader: Mapping[str, Any]) -> str:
    """A digest of what selection reads of a reader: its identity and selectors. A status
    update of a Prometheus (Prometheus Operator writes them often) leaves it unchanged."""
    spec = reader.get("spec") or {}
    meta = reader.get("metadata") or {}
    chosen = {
        "ref": [reader.get("kind"), meta.get("namespace"), meta.get("name")],
        **{name: spec.get(name) for name in SELECTOR_FIELDS},
    }
    encoded = json.dumps(chosen, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


class SelectorChanges:
    """Which watch events of readers can change a verdict: one that comes, goes, or
    changes its selectors. A listing (at start-up, or kopf's after a watch ends; event
    type None) is not news: the owners' resume handlers judge against it, and the list of
    readers is re-read within the client's cache time anyway."""

    def __init__(self) -> None:
        self._fingerprints: dict[str, str] = {}

    def news(self, event_type: str | None, reader: Mapping[str, Any]) -> bool:
        uid = str((reader.get("metadata") or {}).get("uid", ""))
        if event_type == "DELETED":
            return self._fingerprints.pop(uid, None) is not None
        fingerprint = selector_fingerprint(reader)
        before = self._fingerprints.get(uid)
        self._fingerprints[uid] = fingerprint
        return event_type is not None and before != fingerprint


def matches(selector: Selector | None, labels: Labels) -> bool:
    """metav1.LabelSelector semantics: None selects nothing, {} everything, and every
    matchLabels entry and matchExpressions requirement must hold."""
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = set(expression.get("values") or [])
        present = key in labels
        held = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(operator, False)
        if not held:
            return False
    return True


def describe(selector: Selector) -> str:
    """A selector in kubectl's words: `release=main,tier in (a,b),!legacy`."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }.get(operator, f"{key} {operator} ({values})")
        )
    return ",".join(parts) or "everything"


def _labels_text(labels: Labels) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"


@dataclass(frozen=True)
class Reader:
    """A Prometheus or ThanosRuler as selection sees it."""

    kind: str
    namespace: str
    name: str
    spec: Mapping[str, Any]

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Reader:
        meta = obj.get("metadata") or {}
        return cls(obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""),
                   obj.get("spec") or {})  # fmt: skip

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Verdict:
    """One reader's answer for one child."""

    selected: bool
    why: str
    """Why not, in a sentence naming the reader's selector and what the child has."""
    closeness: int
    """How far it got: 0 the namespace did not match, 1 only the labels did not, 2 selected."""
    namespace_unread: bool = False
    """The answer hangs on the namespace's labels, which could not be read."""


@dataclass(frozen=True)
class Child:
    """A child that a reader must select: its kind, namespace, name and labels."""

    kind: str
    namespace: str
    name: str
    labels: Labels

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Child:
        meta = obj.get("metadata") or {}
        return cls(obj["kind"], meta.get("namespace", ""), meta.get("name", ""),
                   meta.get("labels") or {})  # fmt: skip

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


NamespaceLabels = Callable[[str], Labels | None]
"""The labels of a namespace, or None when they cannot be read (RBAC)."""


def judge(reader: Reader, child: Child, namespace_labels: NamespaceLabels) -> Verdict | None:
    """Whether `reader` loads `child`; None when it never loads that kind."""
    pair = SELECTORS.get((reader.kind, child.kind))
    if pair is None:
        return None
    noun = NOUNS[child.kind]
    namespace_selector = reader.spec.get(pair.namespace_selector)
    if namespace_selector is None:
        if reader.namespace != child.namespace:
            why = (
                f"{reader.ref} selects {noun} only in its own namespace {reader.namespace} "
                f"({pair.namespace_selector} is unset); {child.ref} is in {child.namespace}"
            )
            return Verdict(False, why, 0)
    elif namespace_selector != {}:
        labels = namespace_labels(child.namespace)
        if labels is None:
            why = (
                f"{reader.ref} selects {noun} in namespaces with "
                f"{describe(namespace_selector)}, and the labels of namespace "
                f"{child.namespace} cannot be read"
            )
            return Verdict(False, why, 0, namespace_unread=True)
        if not matches(namespace_selector, labels):
            why = (
                f"{reader.ref} selects {noun} in namespaces with "
                f"{describe(namespace_selector)}; namespace {child.namespace} has "
                f"{_labels_text(labels)}"
            )
            return Verdict(False, why, 0)
    selector = reader.spec.get(pair.selector)
    if selector is None:
        why = f"{reader.ref} selects no {noun} ({pair.selector} is unset)"
        return Verdict(False, why, 1)
    if not matches(selector, child.labels):
        why = (
            f"{reader.ref} selects {noun} with {describe(selector)}; {child.ref} has "
            f"{_labels_text(child.labels)}"
        )
        return Verdict(False, why, 1)
    return Verdict(True, "", 2)


@dataclass(frozen=True)
class Selection:
    """The Selected condition: True, False or Unknown, a reason and a message."""

    status: ConditionStatus
    reason: str
    message: str


BINDING_KINDS = {"prometheuses": "Prometheus", "thanosrulers": "ThanosRuler"}
"""The readers a `status.bindings` entry names, by resource."""


def refusals(child: Mapping[str, Any]) -> dict[str, str]:
    """Reader -> why, for each reader whose binding in the child's `status.bindings` says
    Accepted=False: it selects the child but would not load it (an invalid endpoint, a
    missing Secret). Prometheus Operator writes bindings on ServiceMonitors since v0.85,
    behind its StatusForConfigurationResources gate, and only ever adds them (a reader
    that stops selecting keeps its binding), so they can only veto a reader's selection."""
    found = {}
    for binding in (child.get("status") or {}).get("bindings") or []:
        kind = BINDING_KINDS.get(binding.get("resource", ""))
        for condition in binding.get("conditions") or []:
            if kind and condition.get("type") == "Accepted" and condition.get("status") == "False":
                reader = f"{kind} {binding.get('namespace')}/{binding.get('name')}"
                found[reader] = f"{condition.get('reason')}: {condition.get('message')}"
    return found


def unknown(reason: str, message: str) -> Selection:
    return Selection("Unknown", reason, message)


MAX_NAMED = 3
"""Readers named in a True message; the rest are counted."""


def select(
    children: Sequence[Mapping[str, Any]],
    readers: Sequence[Mapping[str, Any]],
    namespace_labels: NamespaceLabels,
    live: Mapping[str, Mapping[str, Any]] | None = None,
) -> Selection | None:
    """Whether every selectable child is loaded by at least one reader. None when the
    owner has nothing a Prometheus selects (no rules, no monitor). `live`: the children
    as stored (Kind/name -> object), whose status may say a reader refused one."""
    wanted = [Child.of(c) for c in children if c.get("kind") in SELECTABLE_KINDS]
    if not wanted:
        return None
    if not readers:
        return Selection(
            "False", "NoPrometheus", "no Prometheus or ThanosRuler object exists in the cluster"
        )
    parsed = sorted((Reader.of(r) for r in readers), key=lambda r: (r.kind, r.namespace, r.name))
    found: list[str] = []
    for child in wanted:
        verdicts = [
            (reader, verdict)
            for reader in parsed
            if (verdict := judge(reader, child, namespace_labels)) is not None
        ]
        refused = refusals((live or {}).get(child.ref) or {})
        selecting = [reader.ref for reader, verdict in verdicts if verdict.selected]
        by = [reader for reader in selecting if reader not in refused]
        if selecting and not by:
            reader = selecting[0]
            message = (
                f"{child.ref} is selected by {reader}, which Prometheus Operator did not "
                f"let load it: {refused[reader]}"
            )
            return Selection("False", "NotAccepted", message)
        if by:
            named = ", ".join(by[:MAX_NAMED]) + (f" and {len(by) - MAX_NAMED} more" if
                                                   len(by) > MAX_NAMED else "")  # fmt: skip
            found.append(f"{child.ref} by {named}")
            continue
        if not verdicts:
            kinds = sorted({r for r, c in SELECTORS if c == child.kind})
            message = f"no {' or '.join(kinds)} exists to load {child.ref}"
            return Selection("False", "NoPrometheus", message)
        if any(verdict.namespace_unread for _, verdict in verdicts):
            closest = next(v for _, v in verdicts if v.namespace_unread)
            return unknown("NamespaceUnreadable", f"{child.ref} may not be loaded: {closest.why}")
        # only the closest: a count of the others would rewrite every status whenever an
        # unrelated Prometheus came or went
        _, closest = max(verdicts, key=lambda rv: rv[1].closeness)
        return Selection("False", "NotSelected", f"{child.ref} is not loaded: {closest.why}")
    return Selection("True", "Selected", "; ".join(found))
