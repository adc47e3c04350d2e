"""Synthetic series for `promtool test rules`, and what the alerts should do on them.

A scenario is a profile: the share of bad events (or bad targets) minute by minute. Each SLI
kind turns a profile into the input series promtool reads, and `Model` works out which
SLOErrorBudgetBurn alerts fire at a minute from the same profile, the window table and the
way Prometheus samples: a 5m `rate()` covers the last 4 one-minute increments, a range
covers (t - w, t]. The tests then state the issue's claims (a fast burn pages in time, a
slow one only opens a ticket...) against these expectations, and promtool checks the rules.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pulse_operator.api import slo
from pulse_operator.slo import alerts, rules, windows

EVENTS_PER_MINUTE = 1000.0
TARGETS = 200
Alert = tuple[str, str, str]  # severity, long_window, short_window


@dataclasses.dataclass(frozen=True)
class Profile:
    """The share of bad events (or targets): `changes` maps a minute to the share from then on."""

    changes: tuple[tuple[int, float], ...]
    minutes: int

    def share(self, minute: int) -> float:
        return next(share for start, share in reversed(self.changes) if start <= minute)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One SLI kind: its spec, and the input series it reads for a profile."""

    name: str
    sli: dict[str, Any]
    events: bool
    series: Callable[[Profile], list[dict[str, str]]]


def _segments(profile: Profile, value: Callable[[float, int], float], slope: float) -> str:
    """promtool's `a+bxn` notation for a gauge that is `value(share, minute)` each minute."""
    starts = [start for start, _ in profile.changes] + [profile.minutes + 1]
    return " ".join(
        f"{value(share, start)!r}+{slope!r}x{end - start - 1}"
        for (start, share), end in zip(profile.changes, starts[1:], strict=True)
    )


def _counter(profile: Profile, per_minute: Callable[[float], float]) -> str:
    """promtool's notation for a counter growing by `per_minute(share)` each minute."""
    tokens, value = [], 0.0
    starts = [start for start, _ in profile.changes] + [profile.minutes + 1]
    for (start, share), end in zip(profile.changes, starts[1:], strict=True):
        step = per_minute(share)
        first = value if start == 0 else value + step
        tokens.append(f"{first!r}+{step!r}x{end - start - 1}")
        value = first + step * (end - start - 1)
    return " ".join(tokens)


def _targets(
    metric: str, profile: Profile, bad: float, good: float, slope: float = 0.0
) -> list[dict[str, str]]:
    """TARGETS series; the first round(share * TARGETS) of them read `bad`, the rest `good`."""
    series = []
    for target in range(TARGETS):

        def value(share: float, minute: int, target: int = target) -> float:
            base = bad if target < round(share * TARGETS) else good
            return base + slope * minute

        series.append(
            {
                "series": f'{metric}{{instance="t{target}"}}',
                "values": _segments(profile, value, slope),
            }
        )
    return series


def _ratio_series(profile: Profile) -> list[dict[str, str]]:
    return [
        {
            "series": 'http_requests_total{job="api",code="500"}',
            "values": _counter(profile, lambda share: share * EVENTS_PER_MINUTE),
        },
        {
            "series": 'http_requests_total{job="api",code="200"}',
            "values": _counter(profile, lambda share: (1 - share) * EVENTS_PER_MINUTE),
        },
    ]


def _good_ratio_series(profile: Profile) -> list[dict[str, str]]:
    return [
        {
            "series": 'automation_runs_total{result="success"}',
            "values": _counter(profile, lambda share: (1 - share) * EVENTS_PER_MINUTE),
        },
        {
            "series": 'automation_runs_total{result="failure"}',
            "values": _counter(profile, lambda share: share * EVENTS_PER_MINUTE),
        },
    ]


def _latency_series(profile: Profile) -> list[dict[str, str]]:
    """A histogram: half the fast requests under 0.1s, every slow one under 0.5s."""
    per_minute: dict[str, Callable[[float], float]] = {
        "0.1": lambda share: (1 - share) / 2 * EVENTS_PER_MINUTE,
        "0.2": lambda share: (1 - share) * EVENTS_PER_MINUTE,
        "0.5": lambda share: EVENTS_PER_MINUTE,
        "+Inf": lambda share: EVENTS_PER_MINUTE,
    }
    series = [
        {
            "series": f'http_request_duration_seconds_bucket{{job="checkout",le="{le}"}}',
            "values": _counter(profile, count),
        }
        for le, count in per_minute.items()
    ]
    series.append(
        {
            "series": 'http_request_duration_seconds_count{job="checkout"}',
            "values": _counter(profile, per_minute["+Inf"]),
        }
    )
    return series


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "ratio-errors",
            {
                "ratio": {
                    "errorQuery": (
                        'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))'
                    ),
                    "totalQuery": 'sum(rate(http_requests_total{job="api"}[{{.window}}]))',
                }
            },
            True,
            _ratio_series,
        ),
        Kind(
            "ratio-good",
            {
                "ratio": {
                    "goodQuery": 'sum(rate(automation_runs_total{result="success"}[{{.window}}]))',
                    "totalQuery": "sum(rate(automation_runs_total[{{.window}}]))",
                }
            },
            True,
            _good_ratio_series,
        ),
        Kind(
            "latency",
            {
                "latency": {
                    "metric": "http_request_duration_seconds",
                    "threshold": 0.2,
                    "selector": 'job="checkout"',
                }
            },
            True,
            _latency_series,
        ),
        Kind(
            "availability",
            {"availability": {"query": "up"}},
            False,
            lambda profile: _targets("up", profile, bad=0.0, good=1.0),
        ),
        Kind(
            "freshness-timestamp",
            {"freshness": {"query": "last_success_timestamp_seconds", "maxLagSeconds": 60}},
            False,
            lambda profile: _targets(
                "last_success_timestamp_seconds", profile, bad=-300.0, good=-10.0, slope=60.0
            ),
        ),
        Kind(
            "freshness-lag",
            {"freshness": {"query": "lag_seconds", "measure": "LagSeconds", "maxLagSeconds": 60}},
            False,
            lambda profile: _targets("lag_seconds", profile, bad=120.0, good=10.0),
        ),
        Kind(
            "saturation",
            {"saturation": {"query": "cpu_utilization", "ceiling": 0.8}},
            False,
            lambda profile: _targets("cpu_utilization", profile, bad=0.95, good=0.5),
        ),
    )
}


def minutes(window: timedelta) -> int:
    return int(window.total_seconds()) // 60


class Model:
    """Which alerts fire at each minute of a profile, given the SLO's windows and budget."""

    def __init__(self, kind: Kind, spec: slo.SLOSpec, profile: Profile) -> None:
        self.pairs = [
            pair
            for pair in windows.burn_rate_windows(spec.window_days)
            if alerts.enabled(pair, spec.alerting)
        ]
        self.budget = float(rules.error_budget(spec))
        shares = [profile.share(minute) for minute in range(profile.minutes + 1)]
        if kind.events:
            # The 5m base at minute s: the increments of minutes s-3..s (from minute 1 on).
            increments = [0.0, *shares[1:]]
            bad = [sum(increments[max(1, s - 3) : s + 1]) for s in range(len(shares))]
            count = [float(min(s, 4)) for s in range(len(shares))]
        else:
            bad = [round(share * TARGETS) / TARGETS for share in shares]
            count = [1.0] * len(shares)
        self.events = kind.events
        self.profile = profile
        self.last = profile.minutes
        self.bad = list(itertools.accumulate(bad, initial=0.0))
        self.count = list(itertools.accumulate(count, initial=0.0))

    def ratio(self, minute: int, window: int) -> float:
        """The recorded error ratio over `window` minutes at `minute`."""
        if self.events and window == minutes(windows.MIN_WINDOW):
            window = 1  # the 5m ratio divides the two base rates at this minute
        first = max(0, minute - window + 1)
        count = self.count[minute + 1] - self.count[first]
        return (self.bad[minute + 1] - self.bad[first]) / count if count else 0.0

    def firing(self, minute: int) -> frozenset[Alert]:
        return frozenset(
            (
                pair.severity,
                windows.prometheus_duration(pair.long_window),
                windows.prometheus_duration(pair.short_window),
            )
            for pair in self.pairs
            if all(
                self.ratio(minute, minutes(w)) / self.budget > float(pair.factor)
                for w in (pair.long_window, pair.short_window)
            )
        )

    def stable(self, minute: int, margin: int = 3) -> frozenset[Alert] | None:
        """The alerts at `minute` if they are the same `margin` minutes around it, else None:
        promtool and this model may disagree by a sample about when a threshold is crossed."""
        around = {self.firing(m) for m in range(minute - margin, minute + margin + 1)}
        return around.pop() if len(around) == 1 else None

    def first_stable(self, minute: int, within: int = 15) -> int:
        """The first minute from `minute` on whose alerts are stable."""
        for candidate in range(minute, minute + within + 1):
            if self.stable(candidate) is not None:
                return candidate
        raise AssertionError(f"no stable minute within {within} of {minute}")

    def checks(self, at: Sequence[int], every: int = 30) -> dict[int, frozenset[Alert]]:
        """The alerts at each minute of `at` (which must be stable), and at every stable
        `every` minutes, for promtool to confirm."""
        checks = {}
        for minute in at:
            fired = self.stable(minute)
            assert fired is not None, f"minute {minute} is too close to a change"
            checks[minute] = fired
        for minute in range(every, self.last - 3, every):
            fired = self.stable(minute)
            if fired is not None:
                checks.setdefault(minute, fired)
        return dict(sorted(checks.items()))


def promtool_tests(
    rule_file: str,
    kind: Kind,
    labels: dict[str, str],
    profile: Profile,
    checks: dict[int, frozenset[Alert]],
) -> dict[str, Any]:
    """A promtool test file: the profile's series, and the alerts expected at each check."""
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": kind.series(profile),
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": "SLOErrorBudgetBurn",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    **labels,
                                    "severity": severity,
                                    "long_window": long,
                                    "short_window": short,
                                }
                            }
                            for severity, long, short in sorted(fired)
                        ],
                    }
                    for minute, fired in checks.items()
                ],
            }
        ],
    }
