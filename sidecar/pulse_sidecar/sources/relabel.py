"""Metric relabeling, with Prometheus's semantics, so that users can cut cardinality at the edge.

The rules run once per new series (the parser remembers the result), so their cost is paid
when a series first appears, not on every scrape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pulse_sidecar import config, samples

_REFERENCE = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")
"""Go's `Regexp.Expand` references: `$$`, `${name}` and `$name` (the longest word)."""
_LABEL_NAME = re.compile(config.LABEL_NAME_PATTERN)


class Rule:
    """One compiled `metric_relabel_configs` entry."""

    def __init__(self, settings: config.MetricRelabel) -> None:
        self.action = settings.action
        self.source_labels = tuple(settings.source_labels)
        self.separator = settings.separator
        self.regex = re.compile(settings.regex)  # fullmatch: Prometheus anchors it at both ends
        self.target_label = settings.target_label or ""
        self.replacement = settings.replacement


def compile_rules(settings: Sequence[config.MetricRelabel]) -> list[Rule]:
    return [Rule(rule) for rule in settings]


def apply(
    rules: Sequence[Rule], name: str, labels: samples.Labels
) -> tuple[str, samples.Labels] | None:
    """The series `name{labels}` after `rules`, or None when a rule drops it.

    A label left with an empty value is removed, as in Prometheus; a series whose name was
    emptied is dropped.
    """
    current = dict(labels)
    current["__name__"] = name
    for rule in rules:
        if rule.action == "labeldrop":
            current = {
                k: v for k, v in current.items() if k == "__name__" or not rule.regex.fullmatch(k)
            }
            continue
        value = rule.separator.join(current.get(label, "") for label in rule.source_labels)
        match = rule.regex.fullmatch(value)
        if rule.action in ("keep", "drop") and (match is None) == (rule.action == "keep"):
            return None
        if rule.action == "replace" and match is not None:
            target = _expand(match, rule.target_label)
            if _LABEL_NAME.fullmatch(target) is not None:  # else skipped, as Prometheus does
                current[target] = _expand(match, rule.replacement)
    renamed = current.pop("__name__", "")
    if not renamed:
        return None
    return renamed, tuple(sorted((k, v) for k, v in current.items() if v))


def _expand(match: re.Match[str], template: str) -> str:
    """`template` with its references to `match`'s groups filled in; an unknown one is empty."""

    def group(reference: re.Match[str]) -> str:
        key = reference.group(1) or reference.group(2)
        if key is None:
            return "$"
        try:
            found = match.group(int(key) if key.isdigit() else key)
        except IndexError:  # no such group, by number or by name
            return ""
        return found or ""

    return _REFERENCE.sub(group, template)
