"""An SLO page from rule to webhook, all on the real node: the demo collector's requests
(examples/real-node/slo.yaml: its app's PodMonitor and an SLO over one day) are
scraped by a Prometheus that Prometheus Operator runs as a pod beside it, configured as
kube-prometheus-stack does; the collector is told to fail every request, and
`SLOErrorBudgetBurn` with `severity=critical` reaches a webhook receiver through an
Alertmanager pod; healed, the resolved notification arrives."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from pulse_devcluster.alerting import RELEASE, Receiver, api, rules_healthy
from pulse_devcluster.demo import DEMO_RATE, HEALING_RATE
from pulse_devcluster.monitoring import loaded_rule_files, loaded_rules
from pulse_devcluster.podstack import run_on_node
from pulse_devcluster.processes import ManagedProcess
from tests.e2e.conftest import Scene, demo_slo_documents, rule_uid
from tests.integration.sidecar.sidecar_upstreams import http_send
from tests.support import eventually

OBJECTIVE = 99.0
PAGE_BURN_RATE = 5.76
"""The first page tier of a 1d window (docs/slo.md: 14.4 over 1h, scaled and floored to 5m)."""
SHORT_WINDOW_SECONDS = 300


def _set_knobs(pod: dict[str, Any], **knobs: float) -> None:
    code, answer = http_send(
        f"http://{pod['status']['podIP']}:8080/knobs", json.dumps(knobs).encode()
    )
    assert code == 200, answer


def _scraped_app_target(prometheus_url: str, namespace: str) -> list[dict[str, Any]]:
    """The app's PodMonitor target (its `http` port), once it is up."""
    targets = api(prometheus_url, "/api/v1/targets")["data"]["activeTargets"]
    return [
        t for t in targets
        if t["labels"].get("namespace") == namespace and t["labels"].get("endpoint") == "http"
        and t["health"] == "up"
    ]  # fmt: skip


def _seconds_of_healthy_requests(prometheus_url: str, namespace: str) -> float:
    """Seconds since Prometheus's first sample of the app's good requests (0: none yet)."""
    series = f'demo_requests_total{{namespace="{namespace}",code="200"}}[10m]'
    found = api(prometheus_url, "/api/v1/query?query=" + urllib.parse.quote(series))
    samples = [sample for result in found["data"]["result"] for sample in result["values"]]
    return time.time() - min(float(stamp) for stamp, _ in samples) if samples else 0.0


def test_failing_requests_page_slo_error_budget_burn_and_healing_resolves_it(
    scene: Scene,
    prometheus_operator: ManagedProcess,
    monitoring: str,
    webhook: tuple[Receiver, int],
) -> None:
    received, receiver_port = webhook
    scene.apply(scene.collector())
    for document in demo_slo_documents(scene.namespace):
        scene.apply(document)
    pod = scene.ready_pod()
    uid = eventually(lambda: rule_uid(scene, "demo-availability-slo"), what="the SLO's rule")
    with run_on_node(scene.cluster, monitoring, receiver_port, selects=RELEASE) as stack:
        assert loaded_rules(
            loaded_rule_files(scene.cluster, monitoring, "kps"), {"demo-availability": uid}
        )
        (target,) = eventually(
            lambda: _scraped_app_target(stack.prometheus_url, scene.namespace),
            timeout=60,
            what="the app's PodMonitor target up",
        )
        assert pod["status"]["podIP"] in str(target["scrapeUrl"])
        eventually(lambda: rules_healthy(stack.prometheus_url), timeout=60, what="the rules ok")
        time.sleep(20)  # healthy requests in the short window before the fault

        healthy = min(_seconds_of_healthy_requests(stack.prometheus_url, scene.namespace), 300.0)
        assert healthy > 0, "Prometheus has no sample of the app's good requests"
        _set_knobs(pod, errorRatio=1.0)
        fault = time.monotonic()
        page = eventually(
            lambda: received.alerts(
                "firing", alertname="SLOErrorBudgetBurn", severity="critical",
                namespace=scene.namespace,
            ),
            timeout=180,
            what="SLOErrorBudgetBurn (severity critical) at the webhook receiver",
        )[0]  # fmt: skip
        paged = time.monotonic() - fault
        # Over the 5m short window (longer than the history here) the error ratio is
        # failing / (healthy + failing) seconds at one request rate: it crosses the page
        # threshold after this many seconds of failure.
        threshold = PAGE_BURN_RATE * (100 - OBJECTIVE) / 100
        predicted = threshold * healthy / (1 - threshold)
        print(
            f"fault to page: {paged:.1f} s ({paged / 60:.2f} min) after {healthy:.0f} s of "
            f"healthy requests; the burn-rate arithmetic predicts {predicted:.1f} s of failure, "
            "plus a scrape (5 s), the rules' evaluation (1 s) and Alertmanager's group_wait (1 s)"
        )
        labels, annotations = page["labels"], page["annotations"]
        assert labels["slo"] == "demo-availability"
        assert labels["service"] == "demo-collector"
        assert (labels["long_window"], labels["short_window"]) == ("5m", "5m")
        assert annotations["runbook_url"].startswith("https://")
        assert annotations["runbook_url"].endswith("/slo-error-budget-burn.md")
        assert "demo-collector: error budget burning" in annotations["summary"]

        assert not received.resolved(page), "resolved while still failing"
        _set_knobs(pod, errorRatio=0.0, rate=HEALING_RATE)
        healed = time.monotonic()
        eventually(
            lambda: received.resolved(page),
            timeout=SHORT_WINDOW_SECONDS + 60,
            what="the page's resolved notification",
        )
        print(f"healed to resolved: {time.monotonic() - healed:.1f} s")
        _set_knobs(pod, rate=DEMO_RATE)
