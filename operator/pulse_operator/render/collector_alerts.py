"""The PrometheusRule of collector alerts: the five alerts of the contract.

Every alert selects on `namespace` and `collector` (the ServiceMonitor/PodMonitor adds
`collector` by relabeling; the sidecar sets it on what it relays) and has a runbook under
docs/runbooks/. `CollectorDown` reads every `up` of the collector: Prometheus's scrape of the
sidecar, and the sidecar's scrapes of its targets, relayed by remote write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulse_operator.api.kinds import PROMETHEUS_OPERATOR
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import COLLECTOR_COMPONENT, Owner
from pulse_operator.render.meta import child_metadata
from pulse_operator.settings import OperatorSettings


@dataclass(frozen=True)
class CollectorAlert:
    """One alert of the contract, with the runbook that explains it."""

    name: str
    runbook: str
    severity: str
    duration: str
    summary: str
    description: str

    def expression(self, selector: str, threshold: float) -> str:
        return {
            "CollectorHighErrorRate": (
                "sum by (namespace, collector, pod) "
                f"(rate(collector_errors_total{{{selector}}}[5m])) > {threshold:g}"
            ),
            "CollectorDown": f"up{{{selector}}} == 0 or absent(up{{{selector}}})",
            "CollectorCircuitOpen": (
                "max by (namespace, collector, pod, sink) "
                f'(max_over_time(collector_circuit_state{{{selector}, state="closed"}}[5m])) == 0'
            ),
            "CollectorSamplesDropped": (
                "sum by (namespace, collector, pod, sink, reason) "
                f"(increase(collector_samples_dropped_total{{{selector}}}[10m])) > 0"
            ),
            "CollectorSpoolFilling": (
                f"collector_spool_bytes{{{selector}}} / collector_spool_limit_bytes{{{selector}}}"
                " > 0.8"
            ),
        }[self.name]


ALERTS = (
    CollectorAlert(
        name="CollectorHighErrorRate",
        runbook="collector-high-error-rate.md",
        severity="warning",
        duration="5m",
        summary="Collector {{ $labels.namespace }}/{{ $labels.collector }} is failing",
        description=(
            "Pod {{ $labels.pod }} reports {{ $value | humanize }} errors per second over "
            "5 minutes (collector_errors_total), above the configured threshold."
        ),
    ),
    CollectorAlert(
        name="CollectorDown",
        runbook="collector-down.md",
        severity="critical",
        duration="5m",
        summary="Collector {{ $labels.namespace }}/{{ $labels.collector }} cannot be scraped",
        description=(
            "{{ if $labels.instance }}{{ $labels.instance }} (job {{ $labels.job }}, pod "
            "{{ $labels.pod }}) has not been scraped successfully for 5 minutes: by "
            "Prometheus if it is the sidecar's /metrics, by the sidecar if it is a target in "
            "the pod (its relayed up). What it serves is not seen.{{ else }}Neither the "
            "sidecar nor any target it relays has been seen for 5 minutes: nothing the "
            "collector gathers is seen.{{ end }}"
        ),
    ),
    CollectorAlert(
        name="CollectorCircuitOpen",
        runbook="collector-circuit-open.md",
        severity="warning",
        duration="0m",
        summary="Collector {{ $labels.namespace }}/{{ $labels.collector }} stopped pushing "
        "to {{ $labels.sink }}",
        description=(
            "The circuit breaker of sink {{ $labels.sink }} in pod {{ $labels.pod }} has not "
            "been closed for 5 minutes: the upstream keeps failing, and data is being "
            "spooled to disk."
        ),
    ),
    CollectorAlert(
        name="CollectorSamplesDropped",
        runbook="collector-samples-dropped.md",
        severity="warning",
        duration="0m",
        summary="Collector {{ $labels.namespace }}/{{ $labels.collector }} dropped samples",
        description=(
            "Pod {{ $labels.pod }} dropped {{ $value | humanize }} samples for sink "
            "{{ $labels.sink }} in the last 10 minutes (reason: {{ $labels.reason }}). "
            "They are lost."
        ),
    ),
    CollectorAlert(
        name="CollectorSpoolFilling",
        runbook="collector-spool-filling.md",
        severity="warning",
        duration="10m",
        summary="Collector {{ $labels.namespace }}/{{ $labels.collector }} spool is filling",
        description=(
            "The durable spool of pod {{ $labels.pod }} is at {{ $value | humanizePercentage }} "
            "of its limit; when full, the oldest data is dropped."
        ),
    ),
)


def collector_rules(
    owner: Owner, spec: MetricsCollectorSpec, settings: OperatorSettings
) -> list[dict[str, Any]]:
    """The alerting rules, as PrometheusRule `spec.groups[].rules` entries."""
    selector = f'namespace="{owner.namespace}", collector="{owner.name}"'
    rules = []
    for alert in ALERTS:
        rule: dict[str, Any] = {
            "alert": alert.name,
            "expr": alert.expression(selector, spec.alerting.error_rate_threshold),
        }
        if alert.duration != "0m":
            rule["for"] = alert.duration
        rule["labels"] = {
            **spec.alerting.labels,
            "severity": alert.severity,
            "namespace": owner.namespace,
            "collector": owner.name,
        }
        rule["annotations"] = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{settings.runbook_base_url}/{alert.runbook}",
        }
        rules.append(rule)
    return rules


def collector_rule(
    owner: Owner, spec: MetricsCollectorSpec, settings: OperatorSettings
) -> dict[str, Any]:
    """The PrometheusRule object."""
    return {
        "apiVersion": PROMETHEUS_OPERATOR,
        "kind": "PrometheusRule",
        "metadata": child_metadata(
            owner,
            COLLECTOR_COMPONENT,
            f"{owner.name}-alerts",
            extra_labels={**settings.selector_labels, **spec.selector_labels},
        ),
        "spec": {
            "groups": [
                {
                    "name": f"pulse-collector.{owner.namespace}.{owner.name}",
                    "rules": collector_rules(owner, spec, settings),
                }
            ]
        },
    }
