"""Recording rules for an SLI's error ratio over every window the alerts and the budget need.

Only the base series touch the author's metrics, once per evaluation, over 5m; every window
is then derived from the recorded base, so a 30d ratio costs one series' samples instead of
a raw `rate()` over every scraped series for 30 days. The derivation keeps the meaning:

- Event SLIs (ratio, latency) record bad and total events per second, and a window's ratio
  is `sum_over_time(bad[w]) / sum_over_time(total[w])`: a ratio of sums, so busy periods
  weigh more, as they do in the SLO (an average of 5m ratios, as Sloth records its window,
  lets a quiet night with one failed request outweigh a busy day).
- Time SLIs (availability, freshness, saturation) record the share of targets bad at each
  evaluation, and a window's ratio is its `avg_over_time`: the share of target-time bad.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pulse_operator.api import slo
from pulse_operator.slo import promql, series, windows

Rule = dict[str, Any]
EventSLI = slo.RatioSLI | slo.LatencySLI
TimeSLI = slo.AvailabilitySLI | slo.FreshnessSLI | slo.SaturationSLI

BASE_WINDOW = windows.MIN_WINDOW
_BASE = windows.prometheus_duration(BASE_WINDOW)


def recording_rules(sli: slo.SLI, days: int, identity: series.SLOSeries) -> list[Rule]:
    """The base series, then the error ratio over each window of `windows.recorded_windows`."""
    kind = sli.selected
    if isinstance(kind, EventSLI):
        error, total = _event_rates(kind)
        base = [(series.ERROR_EVENTS, error), (series.TOTAL_EVENTS, total)]
    else:
        base = [(series.ERROR_NOW, _bad_share_now(kind))]
    ratios = [
        (series.error_ratio(window), _ratio(isinstance(kind, EventSLI), window, identity))
        for window in windows.recorded_windows(days)
    ]
    return [
        {"record": record, "expr": expr, "labels": identity.labels}
        for record, expr in base + ratios
    ]


def _ratio(events: bool, window: timedelta, identity: series.SLOSeries) -> str:
    duration = windows.prometheus_duration(window)
    if not events:
        return f"avg_over_time({identity.select(series.ERROR_NOW)}[{duration}])"
    error, total = identity.select(series.ERROR_EVENTS), identity.select(series.TOTAL_EVENTS)
    if window == BASE_WINDOW:
        return f"{error} / {total}"
    return f"sum_over_time({error}[{duration}]) / sum_over_time({total}[{duration}])"


def _event_rates(kind: EventSLI) -> tuple[str, str]:
    """PromQL for (bad, total) events per second over the base window."""
    if isinstance(kind, slo.LatencySLI):
        total = f"sum(rate({kind.metric}_count{{{kind.selector}}}[{_BASE}]))"
        matchers = ",".join(filter(None, (_le_matcher(kind.threshold), kind.selector.strip())))
        return f"{total} - sum(rate({kind.metric}_bucket{{{matchers}}}[{_BASE}]))", total
    total = f"sum({_embed(promql.with_window(kind.total_query, _BASE))})"
    if kind.error_query is not None:
        # An error counter often has no series until the first error: that is zero errors.
        return f"sum({_embed(promql.with_window(kind.error_query, _BASE))}) or vector(0)", total
    assert kind.good_query is not None, "the model requires errorQuery or goodQuery"
    return f"{total} - sum({_embed(promql.with_window(kind.good_query, _BASE))})", total


def _le_matcher(threshold: float) -> str:
    """The bucket at the threshold. A whole number is written `1` by Prometheus 2 with Go
    clients, and `1.0` by Python clients and by Prometheus 3, which normalises `le`."""
    if threshold.is_integer():
        return f'le=~"{int(threshold)}(\\\\.0)?"'
    return f'le="{threshold!r}"'


def _bad_share_now(kind: TimeSLI) -> str:
    """PromQL for the share of targets bad at this instant."""
    if isinstance(kind, slo.AvailabilitySLI):
        return f"1 - avg({_embed(kind.query)})"
    if isinstance(kind, slo.FreshnessSLI):
        lag = f"({_embed(kind.query)})"
        if kind.measure == "LastSuccessTimestamp":
            lag = f"time() - {lag}"
        return f"avg({lag} > bool {kind.max_lag_seconds!r})"
    return f"avg(({_embed(kind.query)}) > bool {kind.ceiling!r})"


def _embed(query: str) -> str:
    """The author's query, safe inside brackets: a trailing `#` comment must not eat them."""
    return query.strip() + ("\n" if "#" in query else "")
