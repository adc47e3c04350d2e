"""The multi-window, multi-burn-rate table: the SRE Workbook's for 30 days, scaled for others."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from pulse_operator.slo import windows

H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)


def table(days: int) -> list[tuple[str, timedelta, timedelta, float]]:
    return [
        (w.severity, w.long_window, w.short_window, float(w.factor))
        for w in windows.burn_rate_windows(days)
    ]


def test_30_days_give_the_sre_workbook_table() -> None:
    assert table(30) == [
        ("critical", 1 * H, 5 * M, 14.4),
        ("critical", 6 * H, 30 * M, 6.0),
        ("warning", 1 * D, 2 * H, 3.0),
        ("warning", 3 * D, 6 * H, 1.0),
    ]
    fractions = [w.budget_fraction for w in windows.burn_rate_windows(30)]
    assert fractions == [Fraction(2, 100), Fraction(5, 100), Fraction(10, 100), Fraction(10, 100)]


def test_7_days_scale_the_windows_and_keep_the_factors() -> None:
    assert table(7) == [
        ("critical", 14 * M, 5 * M, 14.4),
        ("critical", 84 * M, 7 * M, 6.0),
        ("warning", 336 * M, 28 * M, 3.0),
        ("warning", 1008 * M, 84 * M, 1.0),
    ]


def test_90_days_scale_the_windows_and_keep_the_factors() -> None:
    assert table(90) == [
        ("critical", 3 * H, 15 * M, 14.4),
        ("critical", 18 * H, 90 * M, 6.0),
        ("warning", 3 * D, 6 * H, 3.0),
        ("warning", 9 * D, 18 * H, 1.0),
    ]


def test_1_day_keeps_2_percent_of_the_budget_in_the_5_minute_floor() -> None:
    fast = windows.burn_rate_windows(1)[0]
    assert (fast.long_window, fast.short_window) == (5 * M, 5 * M)
    assert fast.factor == Fraction(576, 100)


@pytest.mark.parametrize("days", range(1, 91))
def test_every_window_keeps_the_budget_fractions_and_pages_only_above_1(days: int) -> None:
    for pair in windows.burn_rate_windows(days):
        spent = pair.factor * Fraction(pair.long_window // M, timedelta(days=days) // M)
        assert spent == pair.budget_fraction
        assert windows.MIN_WINDOW <= pair.short_window <= pair.long_window
        if pair.severity == "critical":
            assert pair.factor > 1
        else:
            assert pair.factor >= 1


@pytest.mark.parametrize("days", [0, 91, -30])
def test_a_window_outside_1_to_90_days_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="1 to 90 days"):
        windows.burn_rate_windows(days)


def test_30_days_record_the_windows_the_issue_lists() -> None:
    recorded = [windows.prometheus_duration(w) for w in windows.recorded_windows(30)]
    assert recorded == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]


def test_other_windows_record_5m_their_alert_windows_and_themselves() -> None:
    recorded = [windows.prometheus_duration(w) for w in windows.recorded_windows(90)]
    assert recorded == ["5m", "15m", "1h30m", "3h", "6h", "18h", "3d", "9d", "90d"]


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (5 * M, "5m"),
        (3 * D, "3d"),
        (7 * D, "7d"),
        (timedelta(hours=5, minutes=36), "5h36m"),
        (timedelta(minutes=5, seconds=10), "5m10s"),
        (timedelta(days=2, hours=19, minutes=12), "2d19h12m"),
    ],
)
def test_durations_are_written_as_prometheus_reads_them(duration: timedelta, text: str) -> None:
    assert windows.prometheus_duration(duration) == text


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(milliseconds=1500)])
def test_a_duration_that_is_not_whole_positive_seconds_is_refused(duration: timedelta) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        windows.prometheus_duration(duration)


def test_the_docs_show_the_table_the_code_computes() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "slo.md").read_text()
    for days in (7, 28, 30, 90):
        for pair in windows.burn_rate_windows(days):
            row = " | ".join(
                (
                    f"{days}d",
                    pair.severity,
                    windows.prometheus_duration(pair.long_window),
                    windows.prometheus_duration(pair.short_window),
                    f"{float(pair.factor):g}",
                    f"{float(pair.budget_fraction * 100):g}%",
                )
            )
            assert f"| {row} |" in docs
