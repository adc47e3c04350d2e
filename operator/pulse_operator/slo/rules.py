"""A validated SLO as the `spec` of a PrometheusRule: the public entry points for handlers and
`pulse-operator render`. Pure: the same spec always gives the same rules, in the same order."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from pulse_operator.api import slo
from pulse_operator.api.slo_status import BurnRateWindow
from pulse_operator.slo import alerts, promql, series, sli, windows

Rule = dict[str, Any]


def render_slo_rules(
    name: str, namespace: str, spec: slo.SLOSpec, runbook_base_url: str
) -> dict[str, list[Rule]]:
    """`{"groups": [...]}` for the PrometheusRule of SLO `namespace/name`; the alerts link
    the runbook under `runbook_base_url` (the operator's PULSE_RUNBOOK_BASE_URL).

    One group, so that each evaluation reads the series recorded earlier in the same
    evaluation. Raises `promql.InvalidPromQLError` when the spec's PromQL does not parse.
    """
    problems = promql.check_spec(spec)
    if problems:
        raise promql.InvalidPromQLError(problems)
    identity = series.SLOSeries(name=name, namespace=namespace, service=spec.service)
    budget = error_budget(spec)
    rules = [
        *sli.recording_rules(spec.sli, spec.window_days, identity),
        *_budget_rules(spec, identity, budget),
        *alerts.alert_rules(spec, identity, budget, f"{runbook_base_url}/{alerts.RUNBOOK}"),
    ]
    return {"groups": [{"name": f"pulse-slo-{name}", "rules": rules}]}


def error_budget(spec: slo.SLOSpec) -> Decimal:
    """The share of events (or time) allowed to be bad, exact: 0.001 for 99.9."""
    return (100 - Decimal(repr(spec.objective))) / 100


def window_table(spec: slo.SLOSpec) -> list[BurnRateWindow]:
    """The alert windows and factors for the SLO's status, critical first."""
    budget = Fraction(error_budget(spec))
    return [
        BurnRateWindow(
            severity=pair.severity,
            long_window=windows.prometheus_duration(pair.long_window),
            short_window=windows.prometheus_duration(pair.short_window),
            burn_rate_factor=float(pair.factor),
            budget_percent=float(pair.budget_fraction * 100),
            error_ratio_threshold=float(pair.factor * budget),
            enabled=alerts.enabled(pair, spec.alerting),
        )
        for pair in windows.burn_rate_windows(spec.window_days)
    ]


def _budget_rules(spec: slo.SLOSpec, identity: series.SLOSeries, budget: Decimal) -> list[Rule]:
    objective = series.number(1 - budget)
    per_budget = f"/ {series.number(budget)}"
    now = identity.select(series.error_ratio(sli.BASE_WINDOW))
    whole = identity.select(series.error_ratio(windows.recorded_windows(spec.window_days)[-1]))
    return [
        {"record": record, "expr": expr, "labels": identity.labels}
        for record, expr in (
            (series.OBJECTIVE, f"vector({objective})"),
            (series.ERROR_BUDGET, f"vector({series.number(budget)})"),
            (series.CURRENT_BURN_RATE, f"{now} {per_budget}"),
            (series.ERROR_BUDGET_REMAINING, f"1 - {whole} {per_budget}"),
        )
    ]
