"""The MetricsCollector API: a collector container, the Pulse sidecar beside it, and where
the sidecar pushes. `crdgen` turns these models into the CRD; the operator parses specs
with them, so admission and reconciliation agree on what is valid.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pulse_operator.api.common import (
    DNS_LABEL_PATTERN,
    LABEL_NAME_PATTERN,
    ApiModel,
    Duration,
    Image,
    ResourceStatus,
    SecretKeyRef,
    cel,
    duration_seconds,
)
from pulse_operator.api.container import (
    CollectorResources,
    ContainerPort,
    EnvVar,
    Probe,
    SidecarResources,
    Toleration,
)
from pulse_operator.api.labels import (
    SELECTOR_LABELS_DESCRIPTION,
    AlertLabels,
    KubernetesLabels,
    ObjectLabels,
    reserved,
)
from pulse_operator.api.rules import Rule
from pulse_sidecar.config import (
    DEFAULT_BODY_SIZE_LIMIT_BYTES,
    DEFAULT_SAMPLE_LIMIT,
    METRIC_NAME_PATTERN,
)

DEFAULT_SIDECAR_PORT = 8000
SIDECAR_PORT_NAME = "pulse-metrics"
"""The name of the sidecar's port in the pod and the Service."""
COLLECTOR_ALERT_LABELS = ("severity", "namespace", "collector")
"""Labels Pulse sets on every collector alert."""


_PORTS_UNIQUE = Rule(
    cel="self.all(p, self.exists_one(q, q.containerPort == p.containerPort && "
    "q.protocol == p.protocol))",
    message="port numbers must be unique per protocol",
    holds=lambda ports: len({(p.container_port, p.protocol) for p in ports}) == len(ports),
)
_NOT_THE_SIDECARS_PORT_NAME = Rule(
    cel=f"self.all(p, p.name != '{SIDECAR_PORT_NAME}')",
    message=f"{SIDECAR_PORT_NAME} is the sidecar's port name",
    holds=lambda ports: all(p.name != SIDECAR_PORT_NAME for p in ports),
)
_LIVENESS_SUCCEEDS_ONCE = (
    "!has(self.livenessProbe) || !has(self.livenessProbe.successThreshold) || "
    "self.livenessProbe.successThreshold == 1",
    "livenessProbe.successThreshold must be 1",
    ".livenessProbe.successThreshold",
)
Argument = Annotated[str, Field(max_length=2048)]


class CollectorContainer(ApiModel):
    """The user's own container, run in each pod beside the sidecar."""

    model_config = cel(_LIVENESS_SUCCEEDS_ONCE)

    image: Image = Field(description="Container image: [registry[:port]/]path[:tag][@digest].")
    command: list[Argument] | None = Field(
        default=None, description="Entrypoint override.", max_length=32
    )
    args: list[Argument] | None = Field(default=None, description="Arguments.", max_length=128)
    env: list[EnvVar] = Field(
        default_factory=list, description="Environment variables.", max_length=128
    )
    ports: Annotated[list[ContainerPort], _PORTS_UNIQUE, _NOT_THE_SIDECARS_PORT_NAME] = Field(
        default_factory=list,
        description="Ports the container listens on.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    resources: CollectorResources | None = Field(
        default=None, description=CollectorResources.__doc__
    )
    liveness_probe: Probe | None = Field(
        default=None, description="The container's own liveness probe (core/v1 Probe)."
    )
    readiness_probe: Probe | None = Field(
        default=None, description="The container's own readiness probe (core/v1 Probe)."
    )

    @model_validator(mode="after")
    def _liveness_succeeds_once(self) -> CollectorContainer:
        probe = self.liveness_probe
        if probe is not None and probe.success_threshold not in (None, 1):
            raise ValueError(f"livenessProbe.successThreshold: {_LIVENESS_SUCCEEDS_ONCE[1]}")
        return self


class SidecarSpec(ApiModel):
    """The Pulse sidecar container."""

    image: Image | None = Field(
        default=None,
        description="Sidecar image; defaults to the image the operator was configured with.",
    )
    port: int = Field(
        default=DEFAULT_SIDECAR_PORT,
        description="Port of the sidecar's HTTP API (/health, /ready, /metrics, ingest).",
        ge=1024,
        le=65535,
    )
    resources: SidecarResources | None = Field(default=None, description=SidecarResources.__doc__)
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Sidecar log level."
    )


class MetricRelabeling(ApiModel):
    """A rule applied to every scraped series, after `job`, `instance` and the collector's
    labels are added: Prometheus's metric_relabel_configs, with Prometheus Operator's names."""

    model_config = cel(
        (
            "(has(self.action) && self.action != 'replace') || has(self.targetLabel)",
            "action replace needs targetLabel",
        )
    )

    action: Literal["replace", "keep", "drop", "labeldrop"] = Field(
        default="replace",
        description="replace: set targetLabel to replacement when regex matches; keep / drop: "
        "keep or drop the series when it matches; labeldrop: remove every label whose name "
        "matches.",
    )
    source_labels: list[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="Labels whose values, joined by separator, are matched (__name__ too).",
        max_length=16,
    )
    separator: str = Field(
        default=";", description="Joins the source labels' values.", max_length=16
    )
    regex: str = Field(
        default="(.*)",
        description="Matched against the joined values (or label names, for labeldrop), "
        "anchored at both ends; the syntax Prometheus configurations use.",
        max_length=1024,
    )
    target_label: str | None = Field(
        default=None,
        description="The label replace sets; __name__ renames the series; $1 and ${name} are "
        "filled from regex.",
        min_length=1,
        max_length=253,
    )
    replacement: str = Field(default="$1", description="The value replace sets.", max_length=1024)

    @model_validator(mode="after")
    def _complete(self) -> MetricRelabeling:
        if self.action == "replace" and self.target_label is None:
            raise ValueError("action replace needs targetLabel")
        try:
            re.compile(self.regex)
        except re.error as error:
            raise ValueError(f"regex: not an expression Pulse can read: {error}") from None
        return self


class ScrapeTarget(ApiModel):
    """An endpoint in the pod that the sidecar scrapes (Prometheus text or OpenMetrics)."""

    model_config = cel(
        ("duration(self.timeout) <= duration(self.interval)", "timeout must not exceed interval")
    )

    port: int = Field(description="Port on the pod.", ge=1, le=65535)
    path: str = Field(
        default="/metrics", description="HTTP path.", pattern=r"^/[^\s]*$", max_length=256
    )
    interval: Duration = Field(default="30s", description="How often to scrape.")
    timeout: Duration = Field(default="10s", description="Give up after this; at most interval.")
    sample_limit: int = Field(
        default=DEFAULT_SAMPLE_LIMIT,
        description="Samples one scrape may hold; more fails the whole scrape (the target is "
        "down, its series go stale), as Prometheus's sample_limit does. Raise it together "
        "with the sidecar's memory limit.",
        ge=1,
        le=10_000_000,
    )
    body_size_limit_bytes: int = Field(
        default=DEFAULT_BODY_SIZE_LIMIT_BYTES,
        description="Uncompressed bytes one scrape's body may have; a longer body fails the "
        "scrape as soon as it passes the limit, as Prometheus's body_size_limit does.",
        ge=1024,
        le=1024 * 1024 * 1024,
    )
    job: str | None = Field(
        default=None,
        description="The job label of this target's series; the MetricsCollector's name "
        "when unset.",
        min_length=1,
        max_length=253,
    )
    honor_labels: bool = Field(
        default=False,
        description="Keep a scraped label that clashes with one Pulse sets (job, instance, "
        "collector, namespace, pod); by default the scraped one is kept as exported_<name>, "
        "as Prometheus's honor_labels does.",
    )
    metric_relabelings: list[MetricRelabeling] = Field(
        default_factory=list,
        description="Rules applied in order to every scraped series, to rename, drop or "
        "keep series and labels before they count against sampleLimit and are sent.",
        max_length=32,
    )

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> ScrapeTarget:
        if duration_seconds(self.timeout) > duration_seconds(self.interval):
            raise ValueError("timeout must not exceed interval")
        return self


class ScrapeSpec(ApiModel):
    """What the sidecar scrapes inside the pod."""

    targets: list[ScrapeTarget] = Field(
        default_factory=list, description="Endpoints to scrape.", max_length=16
    )


class IngestSpec(ApiModel):
    """Event ingest on the sidecar's `POST /metrics`."""

    model_config = cel(
        ("!has(self.apiKeysSecret) || self.enabled", "apiKeysSecret requires enabled: true")
    )

    enabled: bool = Field(default=True, description="Accept events on POST /metrics.")
    api_keys_secret: str | None = Field(
        default=None,
        description="Secret whose values are the accepted X-API-Key keys (one per key). "
        "Without it only loopback callers are accepted.",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
    )
    rate_limit_per_minute: int = Field(
        default=1000, description="Requests per minute per API key.", ge=1, le=1_000_000
    )
    max_series_per_metric: int = Field(
        default=1000,
        description="Series each metric may have; events beyond are rejected.",
        ge=1,
        le=100_000,
    )
    allowed_types: list[Annotated[str, Field(pattern=METRIC_NAME_PATTERN, max_length=128)]] = Field(
        default_factory=list,
        description="If set, the only event types accepted (metric names).",
        max_length=256,
    )

    @model_validator(mode="after")
    def _keys_need_ingest(self) -> IngestSpec:
        if self.api_keys_secret and not self.enabled:
            raise ValueError("apiKeysSecret requires enabled: true")
        return self


class SinkAuth(ApiModel):
    """Credentials for a sink, only ever by Secret reference."""

    model_config = cel(
        (
            "!(has(self.bearerToken) && (has(self.username) || has(self.password)))",
            "use either bearerToken or username/password, not both",
        ),
        ("has(self.username) == has(self.password)", "username and password go together"),
    )

    bearer_token: SecretKeyRef | None = Field(
        default=None, description="Sent as Authorization: Bearer."
    )
    username: SecretKeyRef | None = Field(default=None, description="Basic auth user name.")
    password: SecretKeyRef | None = Field(default=None, description="Basic auth password.")

    @model_validator(mode="after")
    def _one_scheme(self) -> SinkAuth:
        if self.bearer_token and (self.username or self.password):
            raise ValueError("use either bearerToken or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


def _port_in_range(url: str) -> bool:
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return False
    return True


class Endpoint(ApiModel):
    """Where one sink sends."""

    url: Annotated[
        str,
        Field(pattern=r"^https?://[^\s/?#]+([/?#][^\s]*)?$", max_length=2048),
        Rule(
            cel="!isURL(self) || url(self).getPort() == '' || int(url(self).getPort()) <= 65535",
            message="the port must be at most 65535",
            holds=_port_in_range,
        ),
    ] = Field(description="Receiver URL (http or https).")
    timeout: Duration = Field(default="10s", description="Per-request timeout.")


class RemoteWriteEndpoint(Endpoint):
    """A Prometheus remote write receiver."""

    protocol: Literal["1.0", "2.0"] = Field(
        default="1.0",
        description="Remote write 1.0 (prometheus.WriteRequest) or 2.0 "
        "(io.prometheus.write.v2.Request: a symbol table and metric types). With 2.0 the "
        "sidecar falls back to 1.0 when the receiver answers 415 or without the "
        "written-count headers 2.0 requires.",
    )


class PushgatewayEndpoint(Endpoint):
    """A Pushgateway; the sidecar uses a grouping key unique to its pod."""

    job: str = Field(
        default="pulse",
        description="The job label of the group.",
        pattern=LABEL_NAME_PATTERN,
        max_length=128,
    )


class SinkSpec(ApiModel):
    """One upstream; set exactly one of remoteWrite, pushgateway and otlp."""

    model_config = cel(
        (
            "(has(self.remoteWrite) ? 1 : 0) + (has(self.pushgateway) ? 1 : 0) + "
            "(has(self.otlp) ? 1 : 0) == 1",
            "set exactly one of remoteWrite, pushgateway, otlp",
        )
    )

    name: str = Field(
        description="Sink name, unique in this collector; used in metrics and status.",
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
    )
    remote_write: RemoteWriteEndpoint | None = Field(
        default=None, description="A Prometheus remote write receiver."
    )
    pushgateway: PushgatewayEndpoint | None = Field(default=None, description="A Pushgateway.")
    otlp: Endpoint | None = Field(default=None, description="An OTLP/HTTP metrics endpoint.")
    interval: Duration = Field(default="15s", description="How often buffered data is pushed.")
    auth: SinkAuth | None = Field(default=None, description="Credentials, from Secrets.")

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> SinkSpec:
        kinds = [k for k in (self.remote_write, self.pushgateway, self.otlp) if k is not None]
        if len(kinds) != 1:
            raise ValueError("set exactly one of remoteWrite, pushgateway, otlp")
        return self

    @property
    def kind(self) -> Literal["remote_write", "pushgateway", "otlp"]:
        if self.remote_write is not None:
            return "remote_write"
        return "pushgateway" if self.pushgateway is not None else "otlp"

    @property
    def endpoint(self) -> Endpoint:
        endpoint = self.remote_write or self.pushgateway or self.otlp
        assert endpoint is not None  # guaranteed by _exactly_one_kind
        return endpoint


class CircuitBreakerSpec(ApiModel):
    """When the sidecar stops calling a failing sink, and for how long."""

    model_config = cel(
        ("self.maxOpenSeconds >= self.openSeconds", "maxOpenSeconds must be at least openSeconds")
    )

    failure_threshold: int = Field(
        default=5, description="Consecutive failures that open the circuit.", ge=1, le=100
    )
    open_seconds: int = Field(
        default=30, description="Seconds before the first trial call.", ge=1, le=3600
    )
    max_open_seconds: int = Field(
        default=30,
        description="The wait doubles on each failed trial up to this many seconds. The "
        "default keeps the time from an upstream's recovery to the first delivery under a "
        "minute after an outage of any length.",
        ge=1,
        le=86400,
    )

    @model_validator(mode="after")
    def _max_at_least_open(self) -> CircuitBreakerSpec:
        if self.max_open_seconds < self.open_seconds:
            raise ValueError("maxOpenSeconds must be at least openSeconds")
        return self


class BufferSpec(ApiModel):
    """Memory and disk the sidecar may use to hold data it could not send yet."""

    max_samples: int = Field(
        default=100_000, description="Samples held in memory.", ge=1000, le=10_000_000
    )
    spool_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Size limit of the durable spool on the pod's emptyDir; when full the "
        "oldest data is dropped and counted.",
        ge=1024 * 1024,
        le=64 * 1024 * 1024 * 1024,
    )


class AlertingSpec(ApiModel):
    """The PrometheusRule of collector alerts."""

    enabled: bool = Field(default=True, description="Create the PrometheusRule.")
    error_rate_threshold: float = Field(
        default=0.1,
        description="CollectorHighErrorRate fires above this many errors per second.",
        gt=0,
        le=1_000_000,
    )
    labels: Annotated[AlertLabels, reserved(COLLECTOR_ALERT_LABELS)] = Field(
        default_factory=dict,
        description="Labels added to every alert (e.g. team, routing); Go templates as in "
        f"Prometheus. Must not set {', '.join(COLLECTOR_ALERT_LABELS)}.",
    )


class MonitorSpec(ApiModel):
    """How Prometheus Operator finds the sidecar's /metrics."""

    kind: Literal["ServiceMonitor", "PodMonitor", "None"] = Field(
        default="ServiceMonitor", description="ServiceMonitor, PodMonitor, or None for neither."
    )
    interval: Duration = Field(default="30s", description="Scrape interval.")


class AutoscalingSpec(ApiModel):
    """Whether the Deployment's replicas belong to Pulse or to an autoscaler."""

    external: bool = Field(
        default=False,
        description="An HPA (or KEDA, or a person) sets the Deployment's replicas: Pulse "
        "leaves them out of what it applies, so the two never fight over them.",
    )


class MetricsCollectorSpec(ApiModel):
    """A collector Deployment with the Pulse sidecar, its Service, scrape objects and alerts."""

    model_config = cel(
        (
            "!has(self.collector.ports) || self.collector.ports.all(p, p.containerPort != "
            "(has(self.sidecar) && has(self.sidecar.port) ? self.sidecar.port : 8000))",
            "collector.ports must not use the sidecar's port",
            ".collector.ports",
        )
    )

    collector: CollectorContainer = Field(description="The user's collector container.")
    replicas: int = Field(
        default=1,
        description="Pods to run; ignored when autoscaling.external is true.",
        ge=0,
        le=100,
    )
    autoscaling: AutoscalingSpec = Field(
        default_factory=lambda: AutoscalingSpec(),
        description="Who sets the number of pods: Pulse (replicas) or another controller.",
    )
    node_selector: KubernetesLabels = Field(
        default_factory=dict,
        description="Node labels the pods must match (a Pod's nodeSelector).",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        description="Taints the pods tolerate (a Pod's tolerations).",
        max_length=32,
    )
    sidecar: SidecarSpec = Field(
        default_factory=SidecarSpec, description="The Pulse sidecar container."
    )
    scrape: ScrapeSpec = Field(
        default_factory=ScrapeSpec, description="What the sidecar scrapes in the pod."
    )
    ingest: IngestSpec = Field(
        default_factory=IngestSpec, description="Event ingest on the sidecar."
    )
    sinks: list[SinkSpec] = Field(
        default_factory=list,
        description="Where the sidecar pushes; with none it only serves /metrics.",
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    circuit_breaker: CircuitBreakerSpec = Field(
        default_factory=CircuitBreakerSpec, description="Circuit breaker for every sink."
    )
    buffer: BufferSpec = Field(
        default_factory=BufferSpec, description="In-memory buffer and durable spool limits."
    )
    alerting: AlertingSpec = Field(
        default_factory=AlertingSpec, description="Collector alerts (a PrometheusRule)."
    )
    monitor: MonitorSpec = Field(
        default_factory=MonitorSpec, description="ServiceMonitor or PodMonitor for Prometheus."
    )
    selector_labels: ObjectLabels = Field(
        default_factory=dict, description=SELECTOR_LABELS_DESCRIPTION
    )

    @model_validator(mode="after")
    def _ports_distinct_from_sidecar(self) -> MetricsCollectorSpec:
        if any(p.container_port == self.sidecar.port for p in self.collector.ports):
            raise ValueError("collector.ports: must not use the sidecar's port")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> MetricsCollectorSpec:
        # the CRD enforces these as list-map keys; offline rendering must agree
        for what, names in (
            ("collector.ports", [p.name for p in self.collector.ports]),
            ("sinks", [s.name for s in self.sinks]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what}: Duplicate value: {', '.join(repeated)}")
        return self


class MetricsCollectorStatus(ResourceStatus):
    """What the operator last saw of the collector."""

    replicas: int | None = Field(default=None, description="Pods the Deployment has.")
    ready_replicas: int | None = Field(default=None, description="Pods that are Ready.")
    sinks: int | None = Field(default=None, description="How many sinks are configured.")
