"""A collector alert from rule to page, all on the real node: the demo collector's
PodMonitor becomes a scrape job of a Prometheus configured as kube-prometheus-stack does,
through the real Prometheus Operator, whose StatefulSets run that Prometheus and an
Alertmanager as pods beside the collector (podstack.py); the sink's upstream goes down,
`CollectorCircuitOpen` reaches a webhook receiver through that Alertmanager, and resolves
when the upstream is back."""

from __future__ import annotations

import time

from pulse_devcluster.alerting import RELEASE, Receiver, api, rules_healthy
from pulse_devcluster.monitoring import loaded_rule_files, loaded_rules
from pulse_devcluster.podstack import run_on_node
from pulse_devcluster.processes import ManagedProcess
from tests.e2e.conftest import Scene, rule_uid
from tests.support import eventually

SCRAPE_SECONDS = 5
CIRCUIT_WINDOW_SECONDS = 300
"""CollectorCircuitOpen fires when the sink's circuit was not closed once in 5 minutes."""


def test_a_failing_upstream_pages_circuit_open_and_its_return_resolves_it(
    scene: Scene,
    prometheus_operator: ManagedProcess,
    monitoring: str,
    webhook: tuple[Receiver, int],
) -> None:
    received, receiver_port = webhook
    collector = scene.collector()
    spec = collector["spec"]
    spec["circuitBreaker"] = {"failureThreshold": 2, "openSeconds": 5, "maxOpenSeconds": 10}
    spec["monitor"] = {**spec["monitor"], "interval": f"{SCRAPE_SECONDS}s"}
    spec["selectorLabels"] = RELEASE
    scene.apply(collector)
    pod = scene.ready_pod()
    uid = eventually(lambda: rule_uid(scene, "demo-alerts"), what="the collector's rule")
    with run_on_node(scene.cluster, monitoring, receiver_port) as stack:
        assert loaded_rules(loaded_rule_files(scene.cluster, monitoring, "kps"), {"demo": uid})

        # the PodMonitor is a scrape job, and its target is the real pod, up
        def up_targets() -> list[dict[str, object]]:
            targets = api(stack.prometheus_url, "/api/v1/targets")["data"]["activeTargets"]
            return [
                t for t in targets
                if t["labels"].get("namespace") == scene.namespace and t["health"] == "up"
            ]  # fmt: skip

        (target,) = eventually(up_targets, timeout=60, what="the collector's pod scraped, up")
        assert pod["status"]["podIP"] in str(target["scrapeUrl"])
        eventually(lambda: rules_healthy(stack.prometheus_url), timeout=60, what="the rules ok")
        # Prometheus found the Alertmanager pod through Prometheus Operator's Service
        alertmanagers = api(stack.prometheus_url, "/api/v1/alertmanagers")["data"]
        assert [a["url"] for a in alertmanagers["activeAlertmanagers"]] == [
            f"{stack.alertmanager_url}/api/v2/alerts"
        ]

        scene.receiver.stop()  # the sink's upstream goes away
        outage = time.monotonic()
        page = eventually(
            lambda: received.alerts("firing", alertname="CollectorCircuitOpen"),
            timeout=CIRCUIT_WINDOW_SECONDS + 180,
            what="CollectorCircuitOpen at the webhook receiver",
        )[0]
        paged = time.monotonic() - outage
        print(
            f"upstream down to page: {paged / 60:.2f} min; the rule predicts "
            f"{CIRCUIT_WINDOW_SECONDS / 60:.0f} min (no closed circuit in 5m) after the breaker "
            f"opens, plus a {SCRAPE_SECONDS} s scrape and the evaluation"
        )
        labels = page["labels"]
        assert (labels["namespace"], labels["collector"], labels["sink"]) == (
            scene.namespace, "demo", "prometheus",
        )  # fmt: skip
        assert labels["severity"] == "warning"
        assert labels["pod"] == pod["metadata"]["name"]
        assert page["annotations"]["runbook_url"].startswith("https://")
        assert page["annotations"]["runbook_url"].endswith("/collector-circuit-open.md")

        scene.receiver.start()
        back = time.monotonic()
        eventually(
            lambda: received.resolved(page),
            timeout=180,
            what="the page's resolved notification",
        )
        print(f"upstream back to resolved: {time.monotonic() - back:.1f} s")
