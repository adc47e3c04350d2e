"""Label maps users give Pulse: their keys, values and reserved names, checked once.

Two vocabularies meet here. Kubernetes labels (on a PrometheusRule or a monitor, a
nodeSelector) have qualified-name keys and values of at most 63 characters; Prometheus
labels and annotations (on alerts) have label-name keys and values Prometheus parses as
Go templates. Each rule is a `Rule`: CEL for admission and Python for `render`, one message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, Field

from pulse_operator.api.gotemplate import template_error
from pulse_operator.api.rules import Rule

PROMETHEUS_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# Written without backslashes, so that they read the same inside CEL string literals.
KUBERNETES_LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
KUBERNETES_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
MAX_ENTRIES = 32
MAX_ALERT_LABEL_VALUE = 1024
MAX_ANNOTATION_VALUE = 4096
PULSE_LABEL_PREFIX = "app.kubernetes.io/"
"""Pulse sets app.kubernetes.io/name, instance, managed-by and part-of on every child."""


def _kubernetes_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(re.fullmatch(KUBERNETES_LABEL_KEY, key)) and len(name) <= 63 and len(prefix) <= 253


def _prometheus_name(key: str) -> bool:
    return bool(re.fullmatch(PROMETHEUS_LABEL_NAME, key)) and not key.startswith("__")


KUBERNETES_KEYS = Rule(
    cel="self.all(k, k.matches('" + KUBERNETES_LABEL_KEY + "') && (k.contains('/') ? "
    "size(k.split('/')[0]) <= 253 && size(k.split('/')[1]) <= 63 : size(k) <= 63))",
    message="keys must be Kubernetes label keys: an optional DNS subdomain and '/', then at "
    "most 63 of A-Z, a-z, 0-9, '-', '_' and '.', beginning and ending with a letter or digit",
    holds=lambda labels: all(_kubernetes_key(key) for key in labels),
)
NO_PULSE_KEYS = Rule(
    cel=f"self.all(k, !k.startsWith('{PULSE_LABEL_PREFIX}'))",
    message=f"must not set {PULSE_LABEL_PREFIX} labels: Pulse sets them on every object it creates",
    holds=lambda labels: not any(key.startswith(PULSE_LABEL_PREFIX) for key in labels),
)
PROMETHEUS_KEYS = Rule(
    cel="self.all(k, k.matches('" + PROMETHEUS_LABEL_NAME + "') && !k.startsWith('__'))",
    message="keys must be Prometheus label names: letters, digits and '_', not beginning with "
    "a digit or with '__'",
    holds=lambda labels: all(_prometheus_name(key) for key in labels),
)


def reserved(names: tuple[str, ...]) -> Rule:
    """Alert labels Pulse sets itself, which a user's labels must not replace."""
    return Rule(
        cel="self.all(k, !(k in [" + ", ".join(f"'{name}'" for name in names) + "]))",
        message=f"must not set {', '.join(names)}: Pulse sets them on every alert",
        holds=lambda labels: not any(key in names for key in labels),
    )


def _parsable_templates(values: Mapping[str, str]) -> Mapping[str, str]:
    """Prometheus expands alert labels and annotations as Go templates; one that does not
    parse makes it refuse the whole rule file. CEL cannot tell: the operator reports it."""
    for key, value in values.items():
        problem = template_error(value)
        if problem is not None:
            raise ValueError(f"[{key}]: not a template Prometheus can parse: {problem}")
    return values


KubernetesLabelValue = Annotated[str, Field(max_length=63, pattern=KUBERNETES_LABEL_VALUE)]
KubernetesLabels = Annotated[
    dict[str, KubernetesLabelValue], Field(max_length=MAX_ENTRIES), KUBERNETES_KEYS
]
"""Labels of a Kubernetes object, or node labels to select."""
ObjectLabels = Annotated[KubernetesLabels, NO_PULSE_KEYS]
"""Labels a user adds to an object Pulse creates, whose app.kubernetes.io/ keys are Pulse's."""
SELECTOR_LABELS_DESCRIPTION = (
    "Labels on every PrometheusRule, ServiceMonitor and PodMonitor this resource creates, "
    "which a Prometheus's ruleSelector and monitor selectors pick by (e.g. release: "
    "kube-prometheus-stack); over the operator-wide selectorLabels of the chart. The "
    "Selected condition says whether a Prometheus selects them."
)
"""The one description of `spec.selectorLabels`, the same field in both kinds."""
AlertLabels = Annotated[
    dict[str, Annotated[str, Field(max_length=MAX_ALERT_LABEL_VALUE)]],
    Field(max_length=MAX_ENTRIES),
    PROMETHEUS_KEYS,
    AfterValidator(_parsable_templates),
]
"""Labels on alerts; combine with `reserved(...)` for the ones Pulse sets."""
AlertAnnotations = Annotated[
    dict[str, Annotated[str, Field(max_length=MAX_ANNOTATION_VALUE)]],
    Field(max_length=MAX_ENTRIES),
    PROMETHEUS_KEYS,
    AfterValidator(_parsable_templates),
]
"""Annotations on alerts (summary, runbook_url, ...)."""
