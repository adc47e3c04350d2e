"""What a Prometheus says about Pulse's rules, as conditions and live SLO numbers. Pure.

`Loaded`: the PrometheusRule's groups are in the Prometheus's rule files (Prometheus
Operator names each file `<namespace>-<rule>-<uid>.yaml`) and none failed its last
evaluation. `DataPresent` (SLOs): the SLI's recorded series exist, so the SLI measures
something; an SLO over a metric that does not exist otherwise reports a perfect SLI.
The live numbers are rounded so that an SLO whose numbers hold still is not rewritten.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pulse_operator.api.objects import Object, ref
from pulse_operator.api.slo import SLOSpec
from pulse_operator.api.slo_status import SLOLive
from pulse_operator.promapi import RuleGroup, Snapshot
from pulse_operator.slo import series, windows
from pulse_operator.status import ConditionUpdate

_RULE_FILE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.ya?ml")
EXHAUSTION_ROUNDING = datetime.timedelta(minutes=10)
"""The budget's exhaustion time is reported to this: noise in the burn rate moves it less."""


def rule_groups_of(rule: Object, groups: Sequence[RuleGroup]) -> list[RuleGroup]:
    """The loaded groups that came from `rule` (by Prometheus Operator's file name)."""
    meta, names = rule["metadata"], {g["name"] for g in rule["spec"]["groups"]}
    prefix = f"{meta['namespace']}-{meta['name']}-"
    return [
        group
        for group in groups
        if group.name in names
        and (base := group.file.rsplit("/", 1)[-1]).startswith(prefix)
        and _RULE_FILE.fullmatch(base[len(prefix) :])
    ]


def loaded(rule: Object, snapshot: Snapshot) -> ConditionUpdate:
    """Whether the Prometheus evaluates every group of `rule`, and evaluates it cleanly."""
    if snapshot.error is not None:
        return ConditionUpdate("Loaded", "Unknown", "PrometheusUnreachable", snapshot.error)
    wanted = [g["name"] for g in rule["spec"]["groups"]]
    found = rule_groups_of(rule, snapshot.groups)
    if missing := sorted(set(wanted) - {g.name for g in found}):
        return ConditionUpdate(
            "Loaded",
            "False",
            "NotLoaded",
            f"{snapshot.source} has not loaded rule group {', '.join(missing)} of {ref(rule)}: "
            "no Prometheus selects it (see Selected), or it is not reloaded yet "
            "(a new rule takes Prometheus Operator and the config reloader a minute or two)",
        )
    if failing := [problem for group in found for problem in group.unhealthy]:
        more = f" (and {len(failing) - 3} more)" if len(failing) > 3 else ""
        return ConditionUpdate(
            "Loaded",
            "False",
            "RuleErrors",
            f"{len(failing)} rules of {ref(rule)} failed in {snapshot.source}: "
            f"{'; '.join(failing[:3])}{more}",
        )
    rules = sum(g.rules for g in found)
    waiting = "" if all(g.evaluated for g in found) else ", not evaluated yet"
    return ConditionUpdate(
        "Loaded",
        "True",
        "RulesLoaded",
        f"{rules} rules of {ref(rule)} in {snapshot.source}{waiting}",
    )


def _sli_record(rule: Object) -> dict[str, Any]:
    """The recording rule whose series exist exactly when the SLI has data: the total
    events (ratio, latency) or the bad share of targets (availability and the others)."""
    records: dict[str, dict[str, Any]] = {
        r["record"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r
    }
    return records.get(series.TOTAL_EVENTS) or records[series.ERROR_NOW]


def data_present(
    name: str, rule: Object, snapshot: Snapshot, rules_loaded: ConditionUpdate
) -> ConditionUpdate:
    """Whether the SLO's SLI has series in the Prometheus, once its rules run there."""
    if rules_loaded.status != "True":
        why = "the Prometheus cannot be asked" if snapshot.error else "its rules are not loaded"
        return ConditionUpdate("DataPresent", "Unknown", "RulesNotLoaded", f"not known: {why}")
    if not all(g.evaluated for g in rule_groups_of(rule, snapshot.groups)):
        return ConditionUpdate("DataPresent", "Unknown", "NotEvaluatedYet")
    record = _sli_record(rule)
    values = snapshot.series.get((rule["metadata"]["namespace"], name), {})
    if record["record"] in values:
        return ConditionUpdate(
            "DataPresent", "True", "SeriesFound", f"{record['record']} has series"
        )
    return ConditionUpdate(
        "DataPresent",
        "False",
        "NoSeries",
        f"the SLI has no series in {snapshot.source}: {record['expr']} returns nothing "
        "(a renamed metric, a broken scrape or a selector that matches nothing?)",
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value or abs(value) == float("inf") else value


def slo_live(
    name: str, namespace: str, spec: SLOSpec, snapshot: Snapshot, now: datetime.datetime
) -> SLOLive:
    """The SLO's numbers over its window and its alert windows, rounded."""
    values: Mapping[str, float] = snapshot.series.get((namespace, name), {})
    budget = float((100 - Decimal(repr(spec.objective))) / 100)
    window = datetime.timedelta(days=spec.window_days)
    error = _finite(values.get(series.error_ratio(window)))
    remaining = _finite(values.get(series.ERROR_BUDGET_REMAINING))
    burn = _finite(values.get(series.CURRENT_BURN_RATE))
    burn_rates = {}
    for span in windows.recorded_windows(spec.window_days)[:-1]:
        if (ratio := _finite(values.get(series.error_ratio(span)))) is not None:
            burn_rates[windows.prometheus_duration(span)] = round(ratio / budget, 2)
    return SLOLive(
        sli_percent=None if error is None else round(100 * (1 - error), 3),
        error_budget_remaining_percent=None if remaining is None else round(100 * remaining, 1),
        burn_rates=burn_rates,
        budget_exhausted_at=_exhaustion(remaining, burn, window, now),
    )


def _exhaustion(
    remaining: float | None, burn: float | None, window: datetime.timedelta, now: datetime.datetime
) -> str | None:
    """When the budget left runs out if the current burn rate holds (new errors only,
    as if none left the window): only for a burn above 1, which would spend a whole
    budget within the window; at or below 1 it never runs out."""
    if remaining is None or burn is None or burn <= 1 or remaining <= 0:
        return None
    at = now + window * (remaining / burn)
    step = EXHAUSTION_ROUNDING.total_seconds()
    rounded = datetime.datetime.fromtimestamp(round(at.timestamp() / step) * step, datetime.UTC)
    return rounded.strftime("%Y-%m-%dT%H:%M:%SZ")
