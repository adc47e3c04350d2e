"""The SLOErrorBudgetBurn alerts: one per window pair, labelled as the alerting contract says,
and annotated for the person it wakes up: which service, how fast the budget burns, how much
is left, and what the threshold means."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pulse_operator.api import slo
from pulse_operator.slo import series, windows

Rule = dict[str, Any]

ALERT = "SLOErrorBudgetBurn"
RUNBOOK = "slo-error-budget-burn.md"
"""The runbook's file under the operator's runbook base URL; the SLO's
`alerting.annotations.runbook_url` replaces the whole URL."""

_BURN = '{{ printf "%.1f" $value }}'
_ACTION = {
    "critical": "Users are affected now: act now, the runbook says how.",
    "warning": "A slow burn: fix it in working hours, before the budget runs out.",
}


def enabled(pair: windows.BurnRateWindow, alerting: slo.Alerting) -> bool:
    """Whether the SLO's alerting switches keep this pair's alert."""
    return alerting.page if pair.severity == "critical" else alerting.ticket


def alert_rules(
    spec: slo.SLOSpec, identity: series.SLOSeries, budget: Decimal, runbook_url: str
) -> list[Rule]:
    """One alert per enabled window pair, critical first, each linking `runbook_url`."""
    return [
        _alert(spec, identity, budget, pair, runbook_url)
        for pair in windows.burn_rate_windows(spec.window_days)
        if enabled(pair, spec.alerting)
    ]


def _alert(
    spec: slo.SLOSpec,
    identity: series.SLOSeries,
    budget: Decimal,
    pair: windows.BurnRateWindow,
    runbook_url: str,
) -> Rule:
    long, short = (windows.prometheus_duration(w) for w in (pair.long_window, pair.short_window))
    factor = series.number(pair.factor)
    over_budget = f"/ {series.number(budget)} > {factor}"
    expr = (
        f"{identity.select(series.error_ratio(pair.long_window))} {over_budget}"
        f" and {identity.select(series.error_ratio(pair.short_window))} {over_budget}"
    )
    budget_left = (
        f"{{{{ with query `{identity.select(series.ERROR_BUDGET_REMAINING)}` }}}}"
        "{{ $left := . | first | value }}{{ if ge $left 0.0 }}{{ humanizePercentage $left }}"
        "{{ else }}none, it is overspent{{ end }}{{ else }}unknown{{ end }}"
    )
    lasts = _rounded_to_minutes(timedelta(days=spec.window_days) / float(pair.factor))
    objective = f"{series.number(Decimal(repr(spec.objective)))}% over {spec.window}"
    annotations = {
        "summary": (
            f"{spec.service}: error budget burning {_BURN}x too fast "
            f"(SLO {identity.namespace}/{identity.name}, {objective})"
        ),
        "description": (
            f"Over the last {long}, and still over the last {short}, {spec.service} has failed "
            f"{_BURN} times as often as its objective ({objective}) allows. This alert fires "
            f"at {factor}x, when {series.number(pair.budget_fraction * 100)}% of the "
            f"{spec.window} error budget is gone within {long}; at {factor}x the whole budget "
            f"lasts {windows.prometheus_duration(lasts)}. Error budget left over the last "
            f"{spec.window}: {budget_left}. {_ACTION[pair.severity]}"
        ),
        "runbook_url": runbook_url,
    }
    return {
        "alert": ALERT,
        "expr": expr,
        "labels": {
            "severity": pair.severity,
            "long_window": long,
            "short_window": short,
            **spec.alerting.labels,
        },
        "annotations": {**annotations, **spec.alerting.annotations},
    }


def _rounded_to_minutes(duration: timedelta) -> timedelta:
    return timedelta(minutes=max(1, round(duration.total_seconds() / 60)))
