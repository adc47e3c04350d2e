"""Every CRD Pulse serves, with what is not in its models: names and printer columns."""

from __future__ import annotations

from pulse_operator.api import kinds
from pulse_operator.api.crd import CrdSpec, NameRule, PrinterColumn
from pulse_operator.api.metricscollector import MetricsCollectorSpec, MetricsCollectorStatus
from pulse_operator.api.slo import SLOSpec
from pulse_operator.api.slo_status import SLOStatus

_READY = PrinterColumn(
    name="Ready",
    json_path='.status.conditions[?(@.type=="Ready")].status',
    description="Whether every child is applied and healthy.",
)
_REASON = PrinterColumn(
    name="Reason",
    json_path='.status.conditions[?(@.type=="Ready")].reason',
    description="Why Ready is what it is.",
    priority=1,
)
_SELECTED = PrinterColumn(
    name="Selected",
    json_path='.status.conditions[?(@.type=="Selected")].status',
    description="Whether some Prometheus loads the rules (and the monitor): "
    "docs/prometheus-selection.md.",
)
_LOADED = PrinterColumn(
    name="Loaded",
    json_path='.status.conditions[?(@.type=="Loaded")].status',
    description="Whether the operator's Prometheus evaluates the rules (PULSE_PROMETHEUS_URL).",
    priority=1,
)
_AGE = PrinterColumn(name="Age", json_path=".metadata.creationTimestamp", type="date")

COLLECTOR_NAME = NameRule(
    pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
    max_length=63,
    message="must be a DNS label starting with a letter (lowercase letters, digits and '-'): "
    "it names the collector's Service, and labels every child",
)
SLO_NAME = NameRule(
    pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
    max_length=63,
    message="must be lowercase letters, digits, '-' and '.', beginning and ending with a "
    "letter or digit: it labels the SLO's PrometheusRule and is the slo label of its series",
)

METRICS_COLLECTOR = CrdSpec(
    kind=kinds.METRICS_COLLECTOR.kind,
    plural=kinds.METRICS_COLLECTOR.plural,
    short_name="mc",
    description="A MetricsCollector runs a collector container with the Pulse sidecar beside "
    "it, and creates its Service, scrape objects and alerts.",
    spec_model=MetricsCollectorSpec,
    status_model=MetricsCollectorStatus,
    name_rule=COLLECTOR_NAME,
    columns=[
        PrinterColumn(
            name="Replicas", json_path=".spec.replicas", type="integer",
            description="Desired pods.",
        ),
        PrinterColumn(
            name="Available", json_path=".status.readyReplicas", type="integer",
            description="Pods that are Ready.",
        ),
        PrinterColumn(
            name="Sinks", json_path=".status.sinks", type="integer",
            description="Upstreams the sidecar pushes to.",
        ),
        _READY,
        _SELECTED,
        _LOADED,
        _REASON,
        _AGE,
    ],
)  # fmt: skip

SLO = CrdSpec(
    kind=kinds.SLO.kind,
    plural=kinds.SLO.plural,
    short_name="slo",
    description="An SLO turns an objective for a service into recording rules and "
    "multi-window, multi-burn-rate alerts in a PrometheusRule.",
    spec_model=SLOSpec,
    status_model=SLOStatus,
    name_rule=SLO_NAME,
    columns=[
        PrinterColumn(
            name="Service", json_path=".spec.service", description="The service measured.",
        ),
        PrinterColumn(
            name="Objective", json_path=".spec.objective", type="number",
            description="Percent of good events or time promised.",
        ),
        PrinterColumn(name="Window", json_path=".spec.window", description="Rolling window."),
        PrinterColumn(
            name="SLI", json_path=".status.live.sliPercent", type="number",
            description="The SLI over the window, in percent, from Prometheus.",
        ),
        PrinterColumn(
            name="Budget", json_path=".status.live.errorBudgetRemainingPercent", type="number",
            description="Error budget left over the window, in percent, from Prometheus.",
        ),
        _READY,
        _SELECTED,
        _LOADED,
        PrinterColumn(
            name="Data", json_path='.status.conditions[?(@.type=="DataPresent")].status',
            description="Whether the SLI has series in Prometheus.", priority=1,
        ),
        PrinterColumn(
            name="SLI Kind", json_path=".status.sliKind", description="Kind of SLI.",
            priority=1,
        ),
        _REASON,
        _AGE,
    ],
)  # fmt: skip

ALL_CRDS = [METRICS_COLLECTOR, SLO]
