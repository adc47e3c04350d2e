"""An SLO into its one child: the PrometheusRule of recording rules and burn-rate alerts."""

from __future__ import annotations

from typing import Any

from pulse_operator.api.slo import SLOSpec
from pulse_operator.render.meta import Owner, child_metadata
from pulse_operator.slo.rules import render_slo_rules

COMPONENT = "pulse-slo"


def rule_name(slo_name: str) -> str:
    return f"{slo_name}-slo"


def render_slo(owner: Owner, spec: SLOSpec) -> list[dict[str, Any]]:
    """Raises promql.InvalidPromQLError when the spec's PromQL does not parse."""
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": child_metadata(
                owner, COMPONENT, rule_name(owner.name), extra_labels=dict(spec.rule_labels)
            ),
            "spec": render_slo_rules(owner.name, owner.namespace, spec),
        }
    ]
