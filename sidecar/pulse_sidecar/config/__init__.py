"""The sidecar's configuration: one model, shared with the operator that renders it.

The operator builds a `SidecarConfig` for each MetricsCollector and writes
`config.model_dump(mode="json", exclude_defaults=True)` as YAML into the sidecar's ConfigMap;
the sidecar validates the same file with the same model, so the two cannot disagree.
Credentials never appear here: sinks name files mounted from Secrets.
Every model forbids unknown keys, so a typo is an error instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$"
"""Names used as label values (targets, checks, sinks): lowercase, digits, `-` and `_`."""

METRIC_NAME_PATTERN = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
"""A Prometheus metric name."""

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
Seconds = Annotated[float, Field(gt=0, le=86_400)]


class _Model(BaseModel):
    model_config = ConfigDict(regex_engine="python-re", extra="forbid", frozen=True)


class CollectorIdentity(_Model):
    """Who this sidecar collects for; each value becomes a label on every series it sends."""

    name: str = Field(
        description="Name of the MetricsCollector; the `collector` label.",
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
    )
    namespace: str = Field(
        default="",
        description="Namespace of the pod; the `namespace` label. Empty outside Kubernetes.",
        max_length=63,
    )
    pod: str = Field(
        default="",
        description=(
            "Name of the pod; the `pod` label and part of the Pushgateway grouping key. "
            "Shared ConfigMaps cannot know it: set PULSE_SIDECAR__COLLECTOR__POD from the "
            "downward API."
        ),
        max_length=253,
    )


class ServerConfig(_Model):
    """The one HTTP port of the sidecar."""

    address: str = Field(
        default="0.0.0.0",
        description="Address to listen on; all interfaces so that Prometheus can scrape /metrics.",
        min_length=1,
    )
    port: int = Field(default=8000, description="TCP port of the HTTP API.", ge=1, le=65_535)
    shutdown_grace_seconds: float = Field(
        default=20.0,
        description=(
            "On SIGTERM, how long to keep pushing buffered data before persisting the rest "
            "to the spool; below Kubernetes' default 30 s termination grace period."
        ),
        ge=0,
        le=3_600,
    )
    read_timeout_seconds: float = Field(
        default=10.0,
        description=(
            "Time a client has to send a request's head once its connection is open or idle, "
            "and then its body: one that drips bytes is cut off (the connection closed, or "
            "408 for a body), so slow clients cannot hold the port's connections."
        ),
        gt=0,
        le=300,
    )


DEFAULT_SAMPLE_LIMIT = 50_000
"""What the sidecar's default 256 MiB memory limit holds with room to spare (about 170 MiB
of RSS at 50,000 series); Prometheus has no default, but a pod's memory limit does."""
DEFAULT_BODY_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
"""About 150,000 lines of typical exposition: more than the default sample limit allows."""


LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
"""A Prometheus label name."""


class MetricRelabel(_Model):
    """One of Prometheus's `metric_relabel_configs`, with its semantics: applied to every
    scraped series after the target's labels are added, the regular expression anchored at
    both ends, `$1` and `${name}` in `replacement` taken from its groups."""

    action: Literal["replace", "keep", "drop", "labeldrop"] = Field(
        default="replace",
        description=(
            "replace: set `target_label` to `replacement` when `regex` matches; keep / drop: "
            "keep or drop the series when it matches; labeldrop: remove every label whose "
            "name matches."
        ),
    )
    source_labels: list[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="Labels whose values, joined by `separator`, are matched (`__name__` too).",
        max_length=16,
    )
    separator: str = Field(default=";", description="Joins the source labels' values.")
    regex: str = Field(default="(.*)", description="Matched against the joined values.")
    target_label: str | None = Field(
        default=None, description="Label set by replace (`__name__` renames the series)."
    )
    replacement: str = Field(default="$1", description="The value replace writes.")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        try:
            re.compile(self.regex)
        except re.error as error:
            raise ValueError(f"regex {self.regex!r} is not a valid expression: {error}") from None
        if self.action == "replace" and not self.target_label:
            raise ValueError("action replace needs target_label")
        return self


class ScrapeTarget(_Model):
    """An endpoint in the pod exposing Prometheus text format or OpenMetrics."""

    name: Name = Field(description="Unique name of the target; the `target` label.")
    host: str = Field(
        default="127.0.0.1", description="Host to scrape; the pod's loopback by default."
    )
    port: int = Field(description="TCP port of the endpoint.", ge=1, le=65_535)
    path: str = Field(
        default="/metrics",
        description="HTTP path of the endpoint.",
        pattern=r"^/[^\s]*$",
        max_length=1024,
    )
    interval_seconds: Seconds = Field(default=15.0, description="Time between two scrapes.")
    timeout_seconds: Seconds = Field(
        default=10.0, description="Time a scrape may take; at most interval."
    )
    sample_limit: int = Field(
        default=DEFAULT_SAMPLE_LIMIT,
        description=(
            "Samples a scrape may hold; more fails the whole scrape, as Prometheus's "
            "`sample_limit` does (the target is down, its series go stale)."
        ),
        ge=1,
        le=10_000_000,
    )
    body_size_limit_bytes: int = Field(
        default=DEFAULT_BODY_SIZE_LIMIT_BYTES,
        description=(
            "Uncompressed bytes a scrape's body may have; a longer body fails the scrape as "
            "soon as it passes the limit, as Prometheus's `body_size_limit` does."
        ),
        ge=1024,
        le=1024 * 1024 * 1024,
    )
    job: str | None = Field(
        default=None,
        description="The `job` label of its series; the collector's name when unset.",
        min_length=1,
        max_length=253,
    )
    honor_labels: bool = Field(
        default=False,
        description=(
            "Whether a scraped label wins over a label the sidecar sets (`job`, `instance`, "
            "`collector`, `namespace`, `pod`); by default the scraped one is kept as "
            "`exported_<name>`, as Prometheus's `honor_labels: false` does."
        ),
    )
    metric_relabel_configs: list[MetricRelabel] = Field(
        default_factory=list,
        description="Rules applied in order to every scraped series, as Prometheus's are.",
        max_length=32,
    )

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout_seconds > self.interval_seconds:
            raise ValueError("timeout_seconds must not exceed interval_seconds")
        return self


class IngestConfig(_Model):
    """Event ingest on `POST /metrics`."""

    enabled: bool = Field(default=True, description="Accept events on POST /metrics.")
    api_keys_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of a mounted Secret holding one API key per file, re-read every 30 s. "
            "Unset or without keys: only loopback callers are accepted."
        ),
    )
    rate_limit_per_minute: int = Field(
        default=1000,
        description="Requests per minute per API key (token bucket).",
        ge=1,
        le=1_000_000,
    )
    max_metrics: int = Field(
        default=1000,
        description="Event types kept; events of a new type beyond it are rejected.",
        ge=1,
        le=100_000,
    )
    max_series_per_metric: int = Field(
        default=1000,
        description="Series (label sets) per event type; events beyond it are rejected.",
        ge=1,
        le=1_000_000,
    )
    allowed_types: list[Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]] | None = Field(
        default=None,
        description="Event types accepted; unset accepts any valid metric name.",
        max_length=10_000,
    )
    interval_seconds: Seconds = Field(
        default=15.0, description="How often the series built from events are sent to the sinks."
    )


class ResourcesConfig(_Model):
    """CPU and memory of the pod's containers, read from cgroups."""

    enabled: bool = Field(default=True, description="Collect CPU and memory from cgroups.")
    interval_seconds: Seconds = Field(default=15.0, description="Time between two readings.")
    cgroup_root: Path = Field(
        default=Path("/sys/fs/cgroup"),
        description="Mount point of the cgroup hierarchy (v2 unified, or v1 controllers).",
    )


class _CheckBase(_Model):
    name: Name = Field(description="Unique name of the check; shown on /status.")
    interval_seconds: Seconds = Field(default=30.0, description="Time between two checks.")
    timeout_seconds: Seconds = Field(default=5.0, description="Time after which a check fails.")


class HttpCheck(_CheckBase):
    """The dependency is up when a GET answers with a status below 500."""

    type: Literal["http"] = Field(description="An HTTP GET check.")
    target: AnyHttpUrl = Field(description="URL to GET.")


class TcpCheck(_CheckBase):
    """The dependency is up when a TCP connection opens."""

    type: Literal["tcp"] = Field(description="A TCP connect check.")
    target: str = Field(
        description="`host:port` to connect to.", pattern=r"^[^\s:]+:\d{1,5}$", max_length=260
    )


DependencyCheck = Annotated[HttpCheck | TcpCheck, Field(discriminator="type")]


class CircuitBreakerConfig(_Model):
    """When a sink stops being called, and for how long."""

    failure_threshold: int = Field(
        default=5, description="Consecutive failures that open the circuit.", ge=1, le=1_000
    )
    failure_rate: float = Field(
        default=0.5, description="Failure rate over the window that opens the circuit.", gt=0, le=1
    )
    window_size: int = Field(
        default=10, description="Number of recent calls the rate covers.", ge=1, le=1_000
    )
    min_calls: int = Field(
        default=5, description="Calls needed in the window before the rate counts.", ge=1, le=1_000
    )
    open_seconds: float = Field(
        default=30.0, description="First wait before a trial call.", gt=0, le=3_600
    )
    max_open_seconds: float = Field(
        default=30.0,
        description=(
            "Cap of the wait, which doubles after each failed trial. The default keeps the "
            "time from an upstream's recovery to the first delivery under a minute after an "
            "outage of any length, at one trial call every 30 s or so while it lasts."
        ),
        gt=0,
        le=86_400,
    )
    jitter: float = Field(
        default=0.2, description="Relative random spread of the wait (0.2 is ±20%).", ge=0, lt=1
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_calls > self.window_size:
            raise ValueError("min_calls must not exceed window_size")
        if self.max_open_seconds < self.open_seconds:
            raise ValueError("max_open_seconds must not be below open_seconds")
        return self


class RetryConfig(_Model):
    """Retries of one batch inside a push, for answers the sink's protocol calls retryable."""

    max_attempts: int = Field(
        default=3, description="Attempts per batch, the first included.", ge=1, le=20
    )
    initial_backoff_seconds: float = Field(
        default=0.5, description="Wait before the second attempt; doubles each time.", gt=0, le=60
    )
    max_backoff_seconds: float = Field(
        default=10.0,
        description=(
            "Cap of the wait; a longer Retry-After ends the push and the batch is spooled."
        ),
        gt=0,
        le=600,
    )


class PoolConfig(_Model):
    """The HTTP connection pool of one sink."""

    max_connections: int = Field(default=100, description="Connections in total.", ge=1, le=10_000)
    max_connections_per_host: int = Field(
        default=20, description="Connections per host.", ge=1, le=10_000
    )


class BasicAuth(_Model):
    """HTTP basic authentication read from files mounted from a Secret."""

    username_file: Path = Field(description="File holding the user name.")
    password_file: Path = Field(description="File holding the password.")


class _SinkBase(_Model):
    name: Name = Field(
        description="Unique name of the sink; the `sink` label. Default: the type, `_` as `-`."
    )
    url: AnyHttpUrl = Field(description="Endpoint to push to.")
    timeout_seconds: Seconds = Field(default=10.0, description="Time one HTTP request may take.")
    push_interval_seconds: Seconds = Field(default=15.0, description="Time between two pushes.")
    bearer_token_file: Path | None = Field(
        default=None, description="File holding a bearer token, mounted from a Secret."
    )
    basic_auth: BasicAuth | None = Field(default=None, description="Basic authentication files.")
    circuit_breaker: CircuitBreakerConfig = Field(
        default_factory=CircuitBreakerConfig, description="When to stop calling this sink."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retries of a batch.")
    pool: PoolConfig = Field(default_factory=PoolConfig, description="Connection pool.")

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("type"), str):
            return {**data, "name": data["type"].replace("_", "-")}
        return data

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.bearer_token_file is not None and self.basic_auth is not None:
            raise ValueError("set bearer_token_file or basic_auth, not both")
        return self


class RemoteWriteSink(_SinkBase):
    """Prometheus remote write 1.0 or 2.0."""

    type: Literal["remote_write"] = Field(description="Prometheus remote_write.")
    max_samples_per_send: int = Field(
        default=2000, description="Samples per request.", ge=1, le=1_000_000
    )
    protocol: Literal["1.0", "2.0"] = Field(
        default="1.0",
        description=(
            "Remote write 1.0 (prometheus.WriteRequest) or 2.0 (io.prometheus.write.v2.Request, "
            "falling back to 1.0 when the receiver answers 415 or without the written-count "
            "headers)."
        ),
    )


class PushgatewaySink(_SinkBase):
    """Prometheus Pushgateway: the latest value of every series, replaced on each push."""

    type: Literal["pushgateway"] = Field(description="Prometheus Pushgateway.")


class OtlpSink(_SinkBase):
    """OpenTelemetry OTLP/HTTP metrics, protobuf encoding."""

    type: Literal["otlp"] = Field(description="OTLP/HTTP metrics (protobuf).")
    max_samples_per_send: int = Field(
        default=2000, description="Data points per request.", ge=1, le=1_000_000
    )


SinkConfig = Annotated[RemoteWriteSink | PushgatewaySink | OtlpSink, Field(discriminator="type")]


class BufferConfig(_Model):
    """The in-memory queue in front of each sink."""

    max_samples: int = Field(
        default=100_000,
        description=(
            "Samples held in memory per sink, more go to the spool; for a Pushgateway, the "
            "series kept."
        ),
        ge=1,
        le=100_000_000,
    )


class SpoolConfig(_Model):
    """The durable spool, in SQLite on the pod's emptyDir."""

    path: Path = Field(
        default=Path("/var/lib/pulse/spool.db"), description="SQLite file; on an emptyDir volume."
    )
    max_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Payload bytes kept; beyond it the oldest batches are dropped and counted.",
        ge=1024,
        le=1024**4,
    )


class SidecarConfig(_Model):
    """Everything the sidecar does, in one file."""

    collector: CollectorIdentity = Field(description="Identity labels.")
    server: ServerConfig = Field(default_factory=ServerConfig, description="HTTP API.")
    scrape: list[ScrapeTarget] = Field(
        default_factory=list, description="Endpoints in the pod to scrape.", max_length=100
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Event ingest.")
    resources: ResourcesConfig = Field(
        default_factory=ResourcesConfig, description="cgroup CPU and memory."
    )
    dependencies: list[DependencyCheck] = Field(
        default_factory=list, description="Checks of the services depended on.", max_length=100
    )
    sinks: list[SinkConfig] = Field(
        default_factory=list, description="Where collected series are pushed.", max_length=20
    )
    buffer: BufferConfig = Field(default_factory=BufferConfig, description="In-memory queue.")
    spool: SpoolConfig = Field(default_factory=SpoolConfig, description="Durable spool.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of the JSON log lines written to stderr."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        for what, names in (
            ("scrape", [t.name for t in self.scrape]),
            ("dependencies", [c.name for c in self.dependencies]),
            ("sinks", [s.name for s in self.sinks]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{what}: names must be unique, repeated: {duplicates}")
        return self
