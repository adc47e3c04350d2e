"""An SLO into its one child: the PrometheusRule of recording rules and burn-rate alerts."""

from __future__ import annotations

from typing import Any

from pulse_operator import validation
from pulse_operator.api import registry
from pulse_operator.api.kinds import PROMETHEUS_OPERATOR
from pulse_operator.api.objects import SLO_COMPONENT, Object, Owner
from pulse_operator.api.slo import SLOSpec
from pulse_operator.render.meta import child_metadata
from pulse_operator.settings import OperatorSettings
from pulse_operator.slo.rules import render_slo_rules


def rule_name(slo_name: str) -> str:
    return f"{slo_name}-slo"


def render_slo(owner: Owner, spec: SLOSpec, settings: OperatorSettings) -> list[Object]:
    """Raises promql.InvalidPromQLError when the spec's PromQL does not parse."""
    return [
        {
            "apiVersion": PROMETHEUS_OPERATOR,
            "kind": "PrometheusRule",
            "metadata": child_metadata(
                owner,
                SLO_COMPONENT,
                rule_name(owner.name),
                extra_labels={**settings.selector_labels, **spec.selector_labels},
            ),
            "spec": render_slo_rules(owner.name, owner.namespace, spec, settings.runbook_base_url),
        }
    ]


def parse_and_render_slo(
    owner: Owner, raw_spec: Any, settings: OperatorSettings
) -> tuple[SLOSpec, list[Object]]:
    """The spec as the models read it, and its PrometheusRule. Raises SpecError naming the
    field (InvalidPromQLError, a SpecError, when a query does not parse)."""
    spec = validation.parse_object(SLOSpec, registry.SLO.name_rule, owner.name, raw_spec)
    return spec, render_slo(owner, spec, settings)
