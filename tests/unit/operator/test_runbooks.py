"""Every generated alert links its runbook under the operator's base URL."""

from __future__ import annotations

from pathlib import Path

from pulse_operator.offline import render_paths
from pulse_operator.settings import OperatorSettings

EXAMPLES = Path(__file__).parents[3] / "examples"
BASE = "https://runbooks.example.com/team-pulse"


def test_every_alert_of_every_example_links_a_runbook_under_the_base_url() -> None:
    result = render_paths([EXAMPLES], OperatorSettings(runbook_base_url=BASE))
    assert result.problems == []
    alerts = [
        rule
        for obj in result.objects
        if obj["kind"] == "PrometheusRule"
        for group in obj["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    kinds = {obj["metadata"]["labels"]["app.kubernetes.io/name"] for obj in result.objects}
    assert {"pulse-collector", "pulse-slo"} <= kinds  # both kinds' alerts are checked
    assert alerts
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(f"{BASE}/"), (alert["alert"], url)
        assert url.endswith(".md"), (alert["alert"], url)
