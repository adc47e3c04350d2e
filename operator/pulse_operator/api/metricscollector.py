"""The MetricsCollector API: a collector container, the Pulse sidecar beside it, and where
the sidecar pushes. `crdgen` turns these models into the CRD; the operator parses specs
with them, so admission and reconciliation agree on what is valid.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pulse_operator.api.common import (
    DNS_LABEL_PATTERN,
    LABEL_NAME_PATTERN,
    ApiModel,
    Duration,
    Quantity,
    ResourceStatus,
    SecretKeyRef,
    cel,
    duration_seconds,
    quantity,
)

DEFAULT_SIDECAR_PORT = 8000
COLLECTOR_DEFAULTS = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
# Measured (docs/benchmarks.md): about 55 MiB idle and one core at 1,000 ingest requests
# a second; the limits leave room for a full in-memory buffer and for bursts.
SIDECAR_DEFAULTS = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def _describe(defaults: dict[str, dict[str, str]]) -> str:
    return " and ".join(
        f"{kind} {amounts['cpu']}/{amounts['memory']}" for kind, amounts in defaults.items()
    )


class ResourceAmounts(ApiModel):
    """CPU and memory amounts, as Kubernetes quantities."""

    cpu: Quantity | None = Field(default=None, description="CPU, e.g. 250m or 1.")
    memory: Quantity | None = Field(default=None, description="Memory, e.g. 256Mi or 1Gi.")


class Resources(ApiModel):
    """Requests and limits of one container."""

    model_config = cel(
        (
            "!has(self.requests) || !has(self.limits) || !has(self.requests.cpu) || "
            "!has(self.limits.cpu) || quantity(self.requests.cpu).compareTo("
            "quantity(self.limits.cpu)) <= 0",
            "requests.cpu must not exceed limits.cpu",
        ),
        (
            "!has(self.requests) || !has(self.limits) || !has(self.requests.memory) || "
            "!has(self.limits.memory) || quantity(self.requests.memory).compareTo("
            "quantity(self.limits.memory)) <= 0",
            "requests.memory must not exceed limits.memory",
        ),
    )

    requests: ResourceAmounts | None = Field(
        default=None, description="What the scheduler reserves for the container."
    )
    limits: ResourceAmounts | None = Field(
        default=None, description="The most the container may use."
    )

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if self.requests is None or self.limits is None:
            return self
        for amount in ("cpu", "memory"):
            request, limit = getattr(self.requests, amount), getattr(self.limits, amount)
            if request and limit and quantity(request) > quantity(limit):
                raise ValueError(f"requests.{amount} must not exceed limits.{amount}")
        return self


class EnvVar(ApiModel):
    """An environment variable of the collector container (core/v1 EnvVar)."""

    name: str = Field(description="Variable name.", min_length=1, max_length=256)
    value: str | None = Field(default=None, description="Literal value.", max_length=32768)
    value_from: dict[str, Any] | None = Field(
        default=None,
        description="A source for the value (secretKeyRef, configMapKeyRef, fieldRef, ...), "
        "as in a Pod's env[].valueFrom.",
    )


class ContainerPort(ApiModel):
    """A port the collector container listens on; the Service exposes it too."""

    name: str = Field(
        description="Port name, unique in the pod (an IANA service name).",
        pattern=DNS_LABEL_PATTERN,
        max_length=15,
    )
    container_port: int = Field(description="Port number.", ge=1, le=65535)
    protocol: Literal["TCP", "UDP"] = Field(default="TCP", description="TCP or UDP.")


class CollectorContainer(ApiModel):
    """The user's own container, run in each pod beside the sidecar."""

    image: str = Field(description="Container image.", min_length=1, max_length=512)
    command: list[str] | None = Field(
        default=None, description="Entrypoint override.", max_length=64
    )
    args: list[str] | None = Field(default=None, description="Arguments.", max_length=128)
    env: list[EnvVar] = Field(
        default_factory=list, description="Environment variables.", max_length=128
    )
    ports: list[ContainerPort] = Field(
        default_factory=list,
        description="Ports the container listens on.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    resources: Resources | None = Field(
        default=None,
        description="Requests and limits; unset values default to "
        f"{_describe(COLLECTOR_DEFAULTS)}.",
    )
    liveness_probe: dict[str, Any] | None = Field(
        default=None, description="The container's own liveness probe (core/v1 Probe)."
    )
    readiness_probe: dict[str, Any] | None = Field(
        default=None, description="The container's own readiness probe (core/v1 Probe)."
    )


class SidecarSpec(ApiModel):
    """The Pulse sidecar container."""

    image: str | None = Field(
        default=None,
        description="Sidecar image; defaults to the image the operator was configured with.",
        max_length=512,
    )
    port: int = Field(
        default=DEFAULT_SIDECAR_PORT,
        description="Port of the sidecar's HTTP API (/health, /ready, /metrics, ingest).",
        ge=1024,
        le=65535,
    )
    resources: Resources | None = Field(
        default=None,
        description=f"Requests and limits; unset values default to {_describe(SIDECAR_DEFAULTS)}.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Sidecar log level."
    )


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
    allowed_types: list[str] = Field(
        default_factory=list,
        description="If set, the only event types accepted.",
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


class Endpoint(ApiModel):
    """Where one sink sends."""

    url: str = Field(
        description="Receiver URL (http or https).",
        pattern=r"^https?://[^\s/?#]+([/?#][^\s]*)?$",
        max_length=2048,
    )
    timeout: Duration = Field(default="10s", description="Per-request timeout.")


class PushgatewayEndpoint(Endpoint):
    """A Pushgateway; the sidecar uses a grouping key unique to its pod."""

    job: str = Field(
        default="pulse", description="The job label of the group.", pattern=LABEL_NAME_PATTERN
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
    remote_write: Endpoint | None = Field(
        default=None, description="Prometheus remote_write 1.0 receiver."
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
        default=300,
        description="The wait doubles on each failed trial up to this many seconds.",
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
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels added to every alert (e.g. team, routing).",
        max_length=32,
    )
    rule_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels on the PrometheusRule itself, for Prometheus' ruleSelector "
        "(e.g. release: kube-prometheus-stack).",
        max_length=32,
    )


class MonitorSpec(ApiModel):
    """How Prometheus Operator finds the sidecar's /metrics."""

    kind: Literal["ServiceMonitor", "PodMonitor", "None"] = Field(
        default="ServiceMonitor", description="ServiceMonitor, PodMonitor, or None for neither."
    )
    interval: Duration = Field(default="30s", description="Scrape interval.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels on the monitor, for Prometheus' serviceMonitorSelector or "
        "podMonitorSelector.",
        max_length=32,
    )


class Toleration(ApiModel):
    """A taint the collector's pods tolerate (core/v1 Toleration)."""

    model_config = cel(
        (
            "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || "
            "self.value == ''",
            "value must be empty when operator is Exists",
        ),
        (
            "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            "tolerationSeconds applies only to effect NoExecute",
        ),
    )

    key: str | None = Field(
        default=None,
        description="The taint key; empty with operator Exists tolerates every taint.",
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        max_length=316,
    )
    operator: Literal["Exists", "Equal"] | None = Field(
        default=None, description="Exists, or Equal (the default) to match value."
    )
    value: str | None = Field(default=None, description="The taint value.", max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="The taint effect to tolerate; empty tolerates all."
    )
    toleration_seconds: int | None = Field(
        default=None,
        description="With effect NoExecute: how long the pod stays bound after the taint appears.",
        ge=0,
    )

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("value must be empty when operator is Exists")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds applies only to effect NoExecute")
        return self


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
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Node labels the pods must match (a Pod's nodeSelector).",
        max_length=32,
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
