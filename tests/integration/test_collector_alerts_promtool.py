"""The five collector alerts, proven with the real promtool: valid, and firing exactly
when the contract says (and not otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.conftest import Promtool

from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import Owner
from pulse_operator.render.collector_alerts import collector_rule
from pulse_operator.settings import OperatorSettings

SELECTOR = 'namespace="shop", collector="checkout", pod="checkout-1"'
PROMTOOL_TIMEOUT = 120


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    spec = MetricsCollectorSpec.model_validate(
        {"collector": {"image": "app:1"}, "alerting": {"errorRateThreshold": 0.5}}
    )
    owner = Owner("MetricsCollector", "checkout", "shop", "uid")
    rule = collector_rule(owner, spec, OperatorSettings())
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    return path


def _expect(alert: str, at: str, firing: bool, **labels: str) -> dict[str, Any]:
    expected = []
    if firing:
        expected = [
            {
                "exp_labels": {
                    "namespace": "shop",
                    "collector": "checkout",
                    "pod": "checkout-1",
                    **labels,
                },
            }
        ]
    return {"eval_time": at, "alertname": alert, "exp_alerts": expected}


def _run_case(
    promtool: Promtool,
    tmp_path: Path,
    rule_file: Path,
    series: list[dict[str, str]],
    alerts: list[dict[str, Any]],
) -> None:
    """Runs `promtool test rules` on the series and expected alerts: fails unless they pass."""
    test = {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": alerts}],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    promtool("test", "rules", path, timeout=PROMTOOL_TIMEOUT)


RUNBOOKS = "https://github.com/pulse-dev/pulse/blob/main/docs/runbooks"


def _firing(
    case: dict[str, Any], severity: str, runbook: str, summary: str, description: str
) -> dict[str, Any]:
    """The alert's severity and its annotations exactly as a person paged will read them."""
    for alert in case["exp_alerts"]:
        alert["exp_labels"]["severity"] = severity
        alert["exp_annotations"] = {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOKS}/{runbook}",
        }
    return case


def test_the_generated_rules_pass_promtool_check(promtool: Promtool, rule_file: Path) -> None:
    result = promtool("check", "rules", rule_file, timeout=PROMTOOL_TIMEOUT)
    assert "5 rules found" in result.stdout


def test_collector_down_fires_after_five_minutes_of_failed_scrapes(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    scraped = {"job": "checkout", "instance": "10.0.0.7:8000", "endpoint": "pulse-metrics"}
    labels = ", ".join(f'{k}="{v}"' for k, v in scraped.items())
    series = [{"series": f"up{{{SELECTOR}, {labels}}}", "values": "1x4 0x10"}]
    alerts = [
        _expect("CollectorDown", "4m", False),
        _expect("CollectorDown", "8m", False),  # down since 5m: pending
        _firing(
            _expect("CollectorDown", "11m", True, **scraped),
            "critical",
            "collector-down.md",
            "Collector shop/checkout cannot be scraped",
            "10.0.0.7:8000 (job checkout, pod checkout-1) has not been scraped successfully "
            "for 5 minutes: by Prometheus if it is the sidecar's /metrics, by the sidecar if "
            "it is a target in the pod (its relayed up). What it serves is not seen.",
        ),
    ]
    _run_case(promtool, tmp_path, rule_file, series, alerts)


def test_collector_down_fires_for_a_relayed_target_that_is_down(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    """Without any monitor, the sidecar's relayed `up` is the only one: it keeps `absent`
    quiet while the target is up, and fires when it is down."""
    relayed = f'{SELECTOR}, job="checkout", instance="127.0.0.1:9102"'
    series = [{"series": f"up{{{relayed}}}", "values": "1x9 0x10"}]
    down = _firing(
        _expect("CollectorDown", "16m", True, job="checkout", instance="127.0.0.1:9102"),
        "critical",
        "collector-down.md",
        "Collector shop/checkout cannot be scraped",
        "127.0.0.1:9102 (job checkout, pod checkout-1) has not been scraped successfully for "
        "5 minutes: by Prometheus if it is the sidecar's /metrics, by the sidecar if it is a "
        "target in the pod (its relayed up). What it serves is not seen.",
    )
    alerts = [_expect("CollectorDown", "9m", False), down]
    _run_case(promtool, tmp_path, rule_file, series, alerts)


def test_collector_down_fires_when_no_target_exists_at_all(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    series = [{"series": 'up{namespace="other", collector="x"}', "values": "1x10"}]
    expected = {
        "eval_time": "6m",
        "alertname": "CollectorDown",
        "exp_alerts": [
            {
                "exp_labels": {
                    "namespace": "shop",
                    "collector": "checkout",
                    "severity": "critical",
                },
                "exp_annotations": {
                    "summary": "Collector shop/checkout cannot be scraped",
                    "description": "Neither the sidecar nor any target it relays has been "
                    "seen for 5 minutes: nothing the collector gathers is seen.",
                    "runbook_url": f"{RUNBOOKS}/collector-down.md",
                },
            }
        ],
    }
    _run_case(promtool, tmp_path, rule_file, series, [expected])


def test_high_error_rate_fires_above_the_threshold_only(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    series = [
        # one error per second (60 a minute) against a threshold of 0.5/s
        {"series": f'collector_errors_total{{{SELECTOR}, component="sink"}}', "values": "0+60x20"},
    ]
    alerts = [
        _expect("CollectorHighErrorRate", "3m", False),
        _firing(
            _expect("CollectorHighErrorRate", "12m", True),
            "warning",
            "collector-high-error-rate.md",
            "Collector shop/checkout is failing",
            "Pod checkout-1 reports 1 errors per second over 5 minutes "
            "(collector_errors_total), above the configured threshold.",
        ),
    ]
    _run_case(promtool, tmp_path, rule_file, series, alerts)
    quiet = [
        {"series": f'collector_errors_total{{{SELECTOR}, component="sink"}}', "values": "0+6x20"},
    ]
    _run_case(
        promtool, tmp_path, rule_file, quiet, [_expect("CollectorHighErrorRate", "15m", False)]
    )


def test_circuit_open_fires_only_when_not_closed_for_five_minutes(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    state = f'collector_circuit_state{{{SELECTOR}, sink="rw", state="closed"}}'
    open_for_long = [{"series": state, "values": "1x5 0x10"}]
    alerts = [
        _expect("CollectorCircuitOpen", "8m", False),
        _firing(
            _expect("CollectorCircuitOpen", "12m", True, sink="rw"),
            "warning",
            "collector-circuit-open.md",
            "Collector shop/checkout stopped pushing to rw",
            "The circuit breaker of sink rw in pod checkout-1 has not been closed for 5 "
            "minutes: the upstream keeps failing, and data is being spooled to disk.",
        ),
    ]
    _run_case(promtool, tmp_path, rule_file, open_for_long, alerts)
    flapping = [{"series": state, "values": "1 0 0 1 0 0 1 0 0 1 0 0 1 0 0"}]
    _run_case(
        promtool, tmp_path, rule_file, flapping, [_expect("CollectorCircuitOpen", "14m", False)]
    )


def test_samples_dropped_fires_while_drops_are_recent(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    dropped = f'collector_samples_dropped_total{{{SELECTOR}, sink="rw", reason="spool_full"}}'
    series = [{"series": dropped, "values": "0x5 100 100x20"}]
    alerts = [
        _expect("CollectorSamplesDropped", "4m", False),
        _firing(
            _expect("CollectorSamplesDropped", "8m", True, sink="rw", reason="spool_full"),
            "warning",
            "collector-samples-dropped.md",
            "Collector shop/checkout dropped samples",
            "Pod checkout-1 dropped 100 samples for sink rw in the last 10 minutes "
            "(reason: spool_full). They are lost.",
        ),
        _expect("CollectorSamplesDropped", "20m", False),
    ]
    _run_case(promtool, tmp_path, rule_file, series, alerts)


def test_spool_filling_fires_above_eighty_percent_for_ten_minutes(
    promtool: Promtool, tmp_path: Path, rule_file: Path
) -> None:
    series = [
        {"series": f"collector_spool_bytes{{{SELECTOR}}}", "values": "10x5 90x20"},
        {"series": f"collector_spool_limit_bytes{{{SELECTOR}}}", "values": "100x25"},
    ]
    alerts = [
        _expect("CollectorSpoolFilling", "12m", False),
        _firing(
            _expect("CollectorSpoolFilling", "17m", True),
            "warning",
            "collector-spool-filling.md",
            "Collector shop/checkout spool is filling",
            "The durable spool of pod checkout-1 is at 90% of its limit; when full, the "
            "oldest data is dropped.",
        ),
    ]
    _run_case(promtool, tmp_path, rule_file, series, alerts)
