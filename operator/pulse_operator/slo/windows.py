"""Multi-window, multi-burn-rate alert windows for an SLO window of any length.

The reference is the Google SRE Workbook's table for 30 days: page when 2% of the budget is
spent within 1h or 5% within 6h, open a ticket when 10% is spent within 1d or within 3d; each
long window is confirmed by a short one of a twelfth of its length, so that the alert stops
soon after the burn does. A pair fires at burn-rate factor `fraction * window / long_window`
(14.4, 6, 3 and 1 for 30 days).

For other windows Pulse scales the *windows* with the SLO's length, as Pyrra does, and keeps
the factors. Scaling the factors instead (keeping 1h, 6h, 1d, 3d) gives 3.4, 1.4, 0.7 and 0.23
for 7 days, and a paging factor of 1 or less for any window under 6 days: it would page for
a service burning slower than its budget allows. Scaled windows keep both the budget
fractions and the factors, so detection and reset times stay the same share of the window.

No window is shorter than 5m, the resolution of the recorded SLI rates (and a safe span for
`rate()` at the usual scrape intervals). A short window under 5m (the 1h pair's, for windows
under 30 days) becomes 5m: it only confirms that the burn goes on, so no factor changes. A
long window hits the floor only for 1d and 2d, in the 1h pair; its factor is then recomputed
from the budget fraction (5.76 for 1d, 11.52 for 2d), so it still means 2% of the budget and
still pages only above 1.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from fractions import Fraction
from typing import Literal

Severity = Literal["critical", "warning"]

REFERENCE_WINDOW = timedelta(days=30)
MIN_WINDOW = timedelta(minutes=5)
MIN_DAYS, MAX_DAYS = 1, 90


@dataclasses.dataclass(frozen=True)
class BurnRateWindow:
    """One alert: fires when both windows burn faster than `factor` times the budget rate."""

    severity: Severity
    long_window: timedelta
    short_window: timedelta
    factor: Fraction
    budget_fraction: Fraction
    """The share of the whole window's budget spent within `long_window` when it fires."""


# (severity, long and short windows for the 30-day reference, share of the budget)
_REFERENCE_PAIRS: tuple[tuple[Severity, timedelta, timedelta, Fraction], ...] = (
    ("critical", timedelta(hours=1), timedelta(minutes=5), Fraction(2, 100)),
    ("critical", timedelta(hours=6), timedelta(minutes=30), Fraction(5, 100)),
    ("warning", timedelta(days=1), timedelta(hours=2), Fraction(10, 100)),
    ("warning", timedelta(days=3), timedelta(hours=6), Fraction(10, 100)),
)


def burn_rate_windows(days: int) -> tuple[BurnRateWindow, ...]:
    """The four alert windows for an SLO window of `days` days, critical first."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"window must be {MIN_DAYS} to {MAX_DAYS} days, not {days}")
    period = timedelta(days=days)
    scale = Fraction(days * 86400, int(REFERENCE_WINDOW.total_seconds()))
    table = []
    for severity, long_ref, short_ref, fraction in _REFERENCE_PAIRS:
        long_window = max(MIN_WINDOW, _scaled(long_ref, scale))
        short_window = max(MIN_WINDOW, _scaled(short_ref, scale))
        factor = fraction * Fraction(int(period.total_seconds()), int(long_window.total_seconds()))
        table.append(BurnRateWindow(severity, long_window, short_window, factor, fraction))
    return tuple(table)


def _scaled(window: timedelta, scale: Fraction) -> timedelta:
    """`window * scale`, exact: the reference windows times whole days are whole seconds."""
    seconds = int(window.total_seconds()) * scale
    return timedelta(seconds=int(seconds))


def recorded_windows(days: int) -> tuple[timedelta, ...]:
    """Every window the SLI error ratio is recorded over, shortest first: 5m (the current
    burn rate), the alert windows, and the SLO's own window (the budget left)."""
    pairs = burn_rate_windows(days)
    alert_windows = {w for pair in pairs for w in (pair.short_window, pair.long_window)}
    return (*sorted(alert_windows | {MIN_WINDOW}), timedelta(days=days))


def prometheus_duration(duration: timedelta) -> str:
    """A duration as Prometheus writes it (`1d`, `5h36m`, `5m10s`), without weeks or years."""
    seconds = int(duration.total_seconds())
    if seconds <= 0 or seconds != duration.total_seconds():
        raise ValueError(f"not a positive whole number of seconds: {duration}")
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
