"""The generated rules, run by the real promtool: they load, and the alerts fire when they should.

Each scenario feeds promtool synthetic series from a profile of bad events (see synthetic.py),
asserts the issue's claims on what the alerts should do, and lets promtool check that the
rules do exactly that at each checked minute. Annotations are left out of these rule files
(promtool compares them verbatim); one test checks them word for word.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.conftest import Promtool
from tests.integration.slo import synthetic

from pulse_operator.api import slo
from pulse_operator.slo import rules, windows

RUNBOOKS = "https://runbooks.example.com/pulse"
"""The operator's runbook base URL in these tests."""

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples" / "slos").glob("*.yaml"))
NAME, NAMESPACE, SERVICE = "under-test", "tests", "svc"
LABELS = {"slo": NAME, "namespace": NAMESPACE, "service": SERVICE}

# (SLI kind, objective, window): every kind, several objectives and windows.
CONFIGS = [
    ("ratio-errors", 99.9, "30d"),
    ("ratio-good", 98, "7d"),
    ("latency", 95, "28d"),
    ("availability", 99, "30d"),
    ("freshness-timestamp", 99, "7d"),
    ("freshness-lag", 99.5, "1d"),
    ("saturation", 95, "90d"),
]
CONFIG_IDS = [f"{kind}-{objective}-{window}" for kind, objective, window in CONFIGS]


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_promtool_accepts_the_rules_of_every_example(
    path: Path, promtool: Promtool, tmp_path: Path
) -> None:
    document = yaml.safe_load(path.read_text())
    spec = slo.SLOSpec.model_validate(document["spec"])
    rendered = rules.render_slo_rules(document["metadata"]["name"], "default", spec, RUNBOOKS)
    done = promtool("check", "rules", write_yaml(tmp_path / "rules.yaml", rendered))
    count = len(rendered["groups"][0]["rules"])
    assert f"SUCCESS: {count} rules found" in done.stdout


class Scenario:
    """An SLO of one kind under test, and how to run a profile of bad events through promtool."""

    def __init__(self, kind: str, objective: float, window: str, **alerting: bool) -> None:
        self.kind = synthetic.KINDS[kind]
        self.spec = slo.SLOSpec.model_validate(
            {
                "service": SERVICE,
                "objective": objective,
                "window": window,
                "sli": self.kind.sli,
                "alerting": alerting,
            }
        )
        self.pairs = windows.burn_rate_windows(self.spec.window_days)
        self.budget = float(rules.error_budget(self.spec))
        self.smear = 3 if self.kind.events else 1  # minutes: the 5m base rate lags a change

    def share(self, burn: float) -> float:
        """The share of bad events for a burn rate, as the kind can express it."""
        share = min(1.0, burn * self.budget)
        if self.kind.events:
            return share
        return round(share * synthetic.TARGETS) / synthetic.TARGETS

    def detection(self, pair: windows.BurnRateWindow, healthy: float, burning: float) -> int:
        """Minutes until `pair` fires once `healthy` turns into `burning`, with full windows
        (the SRE Workbook's detection time); a window not yet full only fires sooner."""
        long = synthetic.minutes(pair.long_window)
        threshold = float(pair.factor) * self.budget
        return math.ceil(long * (threshold - healthy) / (burning - healthy)) + self.smear

    def model(self, changes: list[tuple[int, float]], minutes: int) -> synthetic.Model:
        return synthetic.Model(self.kind, self.spec, synthetic.Profile(tuple(changes), minutes))

    def check(
        self,
        promtool: Promtool,
        tmp_path: Path,
        model: synthetic.Model,
        checks: dict[int, frozenset[synthetic.Alert]],
    ) -> None:
        """Runs promtool on the rules (without annotations) and the profile's series, and
        fails unless the alerts at each checked minute are exactly the expected ones."""
        rendered = rules.render_slo_rules(NAME, NAMESPACE, self.spec, RUNBOOKS)
        for rule in rendered["groups"][0]["rules"]:
            rule.pop("annotations", None)
        write_yaml(tmp_path / "rules.yaml", rendered)
        test = synthetic.promtool_tests("rules.yaml", self.kind, LABELS, model.profile, checks)
        promtool("test", "rules", write_yaml(tmp_path / "test.yaml", test))


def alert(pair: windows.BurnRateWindow) -> synthetic.Alert:
    return (
        pair.severity,
        windows.prometheus_duration(pair.long_window),
        windows.prometheus_duration(pair.short_window),
    )


def severities(checks: dict[int, frozenset[synthetic.Alert]]) -> set[str]:
    return {severity for alerts in checks.values() for severity, _, _ in alerts}


@pytest.mark.parametrize(("kind", "objective", "window"), CONFIGS, ids=CONFIG_IDS)
def test_a_fast_burn_pages_within_the_expected_time_and_recovery_resolves_it(
    kind: str, objective: float, window: str, promtool: Promtool, tmp_path: Path
) -> None:
    scenario = Scenario(kind, objective, window, ticket=False)
    page, slower_page = scenario.pairs[:2]
    healthy, burning = scenario.share(0.5), scenario.share(2 * float(page.factor))
    # Enough healthy history for both paging windows to be full when the burn starts.
    start = math.ceil(1.5 * synthetic.minutes(slower_page.long_window))
    expected = start + scenario.detection(page, healthy, burning)
    stop = expected + 20
    reset = stop + synthetic.minutes(slower_page.short_window) + 2 * scenario.smear + 5
    model = scenario.model([(0, healthy), (start, burning), (stop, healthy)], reset + 30)
    paged = model.first_stable(expected)
    checks = model.checks([start - 5, paged, reset])
    scenario.check(promtool, tmp_path, model, checks)
    assert checks[start - 5] == set()
    assert paged <= expected + 5, f"paged {paged - start}m after the burn began"
    assert alert(page) in checks[paged]
    assert checks[reset] == set(), "the page did not resolve after recovery"


@pytest.mark.parametrize(("kind", "objective", "window"), CONFIGS, ids=CONFIG_IDS)
def test_a_slow_burn_opens_a_ticket_and_never_pages(
    kind: str, objective: float, window: str, promtool: Promtool, tmp_path: Path
) -> None:
    scenario = Scenario(kind, objective, window)
    healthy, burning = scenario.share(0.5), scenario.share(4.5)
    assert all(burning / scenario.budget < float(p.factor) for p in scenario.pairs[:2])
    # A day's worth of healthy history (for 30 days): promtool's test engine reads at most
    # 10,000 samples per query, so the full 3d of the last pair would not fit for 90 days.
    start = synthetic.minutes(scenario.pairs[2].long_window)
    expected = start + min(scenario.detection(p, healthy, burning) for p in scenario.pairs[2:])
    model = scenario.model([(0, healthy), (start, burning)], expected + 60)
    ticket = model.first_stable(expected)
    checks = model.checks([start - 5, ticket])
    scenario.check(promtool, tmp_path, model, checks)
    assert checks[start - 5] == set()
    assert "warning" in severities({ticket: checks[ticket]}), "the slow burn opened no ticket"
    assert "critical" not in severities(checks), "the slow burn paged"


@pytest.mark.parametrize(("kind", "objective", "window"), CONFIGS, ids=CONFIG_IDS)
def test_a_healthy_service_with_short_spikes_fires_nothing(
    kind: str, objective: float, window: str, promtool: Promtool, tmp_path: Path
) -> None:
    scenario = Scenario(kind, objective, window)
    healthy, spike = scenario.share(0.5), scenario.share(3)
    minutes = synthetic.minutes(scenario.pairs[2].long_window) + 360
    changes = [(0, healthy)]
    for start in range(180, minutes, 360):  # 5 minutes at 3x every 6 hours
        changes += [(start, spike), (start + 5, healthy)]
    model = scenario.model(changes, minutes)
    checks = model.checks([minutes - 10], every=15)
    scenario.check(promtool, tmp_path, model, checks)
    assert severities(checks) == set()


def test_the_annotations_say_how_fast_the_budget_burns_and_how_much_is_left(
    promtool: Promtool, tmp_path: Path
) -> None:
    """98% over 30d: 1980 healthy minutes, then every target down for 20: the 1h/5m pair
    fires alone, at 20/60 / 0.02 = 16.7x, with 1 - (20/2000) / 0.02 = 50% of the budget left."""
    scenario = Scenario("availability", 98, "30d")
    spec = scenario.spec.model_copy(update={"alerting": slo.Alerting(labels={"team": "payments"})})
    profile = synthetic.Profile(((0, 0.0), (1980, 1.0)), 2010)
    write_yaml(tmp_path / "rules.yaml", rules.render_slo_rules(NAME, NAMESPACE, spec, RUNBOOKS))
    test = synthetic.promtool_tests("rules.yaml", scenario.kind, LABELS, profile, {})
    test["tests"][0]["alert_rule_test"] = [
        {
            "eval_time": "1999m",
            "alertname": "SLOErrorBudgetBurn",
            "exp_alerts": [
                {
                    "exp_labels": {
                        **LABELS,
                        "team": "payments",
                        "severity": "critical",
                        "long_window": "1h",
                        "short_window": "5m",
                    },
                    "exp_annotations": {
                        "summary": (
                            "svc: error budget burning 16.7x too fast "
                            "(SLO tests/under-test, 98% over 30d)"
                        ),
                        "description": (
                            "Over the last 1h, and still over the last 5m, svc has failed 16.7 "
                            "times as often as its objective (98% over 30d) allows. This alert "
                            "fires at 14.4x, when 2% of the 30d error budget is gone within 1h; "
                            "at 14.4x the whole budget lasts 2d2h. Error budget left over the "
                            "last 30d: 50%. Users are affected now: act now, the runbook says "
                            "how."
                        ),
                        "runbook_url": f"{RUNBOOKS}/slo-error-budget-burn.md",
                    },
                }
            ],
        }
    ]
    promtool("test", "rules", write_yaml(tmp_path / "test.yaml", test))


def test_a_quiet_half_hour_of_failures_weighs_by_its_traffic_not_its_length(
    promtool: Promtool, tmp_path: Path
) -> None:
    """1000 good requests a minute for 30 minutes, then 10 failed ones a minute for 30: over the
    hour 1% of requests failed, not the 50% an average of 5-minute ratios would say."""
    spec = Scenario("ratio-errors", 99.9, "30d").spec
    write_yaml(tmp_path / "rules.yaml", rules.render_slo_rules(NAME, NAMESPACE, spec, RUNBOOKS))
    series = '{{namespace="tests", service="svc", slo="under-test"}}'
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'http_requests_total{job="api",code="200"}',
                        "values": "0+1000x30 30000+0x30",
                    },
                    {
                        "series": 'http_requests_total{job="api",code="500"}',
                        "values": "0+0x30 10+10x29",
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": f"pulse_slo:sli_error:ratio_rate{window} {condition}",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": series.format(), "value": 1}],
                    }
                    for window, condition in (("1h", "< bool 0.02"), ("5m", "== bool 1"))
                ],
            }
        ],
    }
    promtool("test", "rules", write_yaml(tmp_path / "test.yaml", test))
