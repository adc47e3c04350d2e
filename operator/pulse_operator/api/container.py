"""The parts of a core/v1 container a MetricsCollector carries: env, ports, probes,
resources and tolerations, typed as the core API types them.

They are typed rather than free-form so that admission refuses what the API server would
refuse later in the Deployment or its pods (an env name with '=', a probe without a
handler), where only a ReplicaSet's event would say so.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from pulse_operator.api.common import (
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    ApiModel,
    Quantity,
    cel,
    quantity,
)
from pulse_operator.api.rules import Rule

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
SERVICE_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
"""An IANA service name (a named port): at most 15 characters, at least one letter."""
ENV_NAME_PATTERN = r"^[ -<>-~]+$"
"""Printable ASCII without '=', as Kubernetes 1.34 and later accept."""


def _describe(defaults: dict[str, dict[str, str]]) -> str:
    return " and ".join(
        f"{kind} {amounts['cpu']}/{amounts['memory']}" for kind, amounts in defaults.items()
    )


class ResourceAmounts(ApiModel):
    """CPU and memory amounts, as Kubernetes quantities."""

    cpu: Quantity | None = Field(default=None, description="CPU, e.g. 250m or 1.")
    memory: Quantity | None = Field(default=None, description="Memory, e.g. 256Mi or 1Gi.")


def _within_limits(defaults: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """CEL: each request at most its limit, counting Pulse's default for an unset one
    (a request above the default limit would make every pod unschedulable)."""
    rules = []
    for amount in ("cpu", "memory"):
        request, limit = defaults["requests"][amount], defaults["limits"][amount]
        rules.append(
            (
                f"quantity(has(self.requests) && has(self.requests.{amount}) ? "
                f"self.requests.{amount} : '{request}').compareTo(quantity(has(self.limits) && "
                f"has(self.limits.{amount}) ? self.limits.{amount} : '{limit}')) <= 0",
                _over_limit(amount, defaults),
            )
        )
    return rules


def _over_limit(amount: str, defaults: dict[str, dict[str, str]]) -> str:
    return (
        f"requests.{amount} must not exceed limits.{amount} (unset, they are "
        f"{defaults['requests'][amount]} and {defaults['limits'][amount]})"
    )


class Resources(ApiModel):
    """Requests and limits of one container; what is unset takes Pulse's default."""

    DEFAULTS: ClassVar[dict[str, dict[str, str]]]

    requests: ResourceAmounts | None = Field(
        default=None, description="What the scheduler reserves for the container."
    )
    limits: ResourceAmounts | None = Field(
        default=None, description="The most the container may use."
    )

    def merged(self, kind: Literal["requests", "limits"]) -> dict[str, str]:
        """Defaults overlaid with what the user set, amount by amount."""
        amounts = getattr(self, kind)
        return {**self.DEFAULTS[kind], **(amounts.model_dump(exclude_none=True) if amounts else {})}

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        requests, limits = self.merged("requests"), self.merged("limits")
        for amount in ("cpu", "memory"):
            if quantity(requests[amount]) > quantity(limits[amount]):
                raise ValueError(_over_limit(amount, self.DEFAULTS))
        return self


class CollectorResources(Resources):
    __doc__ = f"Requests and limits; unset values default to {_describe(COLLECTOR_DEFAULTS)}."
    model_config = cel(*_within_limits(COLLECTOR_DEFAULTS))
    DEFAULTS = COLLECTOR_DEFAULTS


class SidecarResources(Resources):
    __doc__ = f"Requests and limits; unset values default to {_describe(SIDECAR_DEFAULTS)}."
    model_config = cel(*_within_limits(SIDECAR_DEFAULTS))
    DEFAULTS = SIDECAR_DEFAULTS


class KeySelector(ApiModel):
    """A key of a Secret or ConfigMap in the collector's namespace."""

    name: str = Field(
        description="Name of the Secret or ConfigMap.", pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
    )  # fmt: skip
    key: str = Field(description="The key.", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)
    optional: bool | None = Field(default=None, description="Start even if it is missing.")


class ObjectFieldSelector(ApiModel):
    """A field of the pod (the downward API), e.g. metadata.name or status.podIP."""

    api_version: str | None = Field(default=None, description="Defaults to v1.", max_length=64)
    field_path: str = Field(description="Path of the field.", min_length=1, max_length=256)


class ResourceFieldSelector(ApiModel):
    """A container's resource request or limit (the downward API)."""

    container_name: str | None = Field(
        default=None, description="The container; defaults to this one.", max_length=63
    )
    resource: str = Field(
        description="limits.cpu, requests.memory, ...",
        pattern=r"^(limits|requests)\.[a-z0-9.-]+$",
        max_length=253,
    )
    divisor: Quantity | None = Field(default=None, description="Unit of the value, e.g. 1Mi.")


_ONE_SOURCE = "set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef"
_SOURCES = ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef")


class EnvVarSource(ApiModel):
    """Where an environment variable's value comes from (core/v1 EnvVarSource)."""

    model_config = cel(
        ("[" + ", ".join(f"has(self.{s})" for s in _SOURCES) + "].filter(x, x).size() == 1",
         _ONE_SOURCE)
    )  # fmt: skip

    secret_key_ref: KeySelector | None = Field(default=None, description="A Secret's key.")
    config_map_key_ref: KeySelector | None = Field(default=None, description="A ConfigMap's key.")
    field_ref: ObjectFieldSelector | None = Field(default=None, description="A pod field.")
    resource_field_ref: ResourceFieldSelector | None = Field(
        default=None, description="A container's request or limit."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        chosen = [self.secret_key_ref, self.config_map_key_ref, self.field_ref,
                  self.resource_field_ref]  # fmt: skip
        if sum(source is not None for source in chosen) != 1:
            raise ValueError(_ONE_SOURCE)
        return self


_VALUE_OR_SOURCE = "set value or valueFrom, not both"


class EnvVar(ApiModel):
    """An environment variable of the collector container (core/v1 EnvVar)."""

    model_config = cel(("!has(self.value) || !has(self.valueFrom)", _VALUE_OR_SOURCE))

    name: str = Field(
        description="Variable name: printable ASCII characters except '='.",
        pattern=ENV_NAME_PATTERN,
        max_length=256,
    )
    value: str | None = Field(default=None, description="Literal value.", max_length=4096)
    value_from: EnvVarSource | None = Field(
        default=None, description="A source for the value, as in a Pod's env[].valueFrom."
    )

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError(_VALUE_OR_SOURCE)
        return self


def _port_reference(value: int | str) -> bool:
    if isinstance(value, int):
        return 1 <= value <= 65535
    return (
        len(value) <= 15
        and re.fullmatch(SERVICE_NAME_PATTERN, value) is not None
        and "--" not in value
        and re.search("[a-z]", value) is not None
    )


PortReference = Annotated[
    int | str,
    Rule(
        cel="type(self) == int ? self >= 1 && self <= 65535 : size(self) <= 15 && "
        "self.matches('" + SERVICE_NAME_PATTERN + "') && !self.contains('--') && "
        "self.matches('[a-z]')",
        message="must be a port number (1-65535) or the name of one of the container's ports",
        holds=_port_reference,
    ),
]


class HTTPHeader(ApiModel):
    """A header a probe sends."""

    name: str = Field(
        description="Header name.", pattern=r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$", max_length=256
    )
    value: str = Field(description="Header value.", max_length=1024)


class HTTPGetAction(ApiModel):
    """An HTTP GET on the container; 200-399 is success."""

    path: str | None = Field(
        default=None, description="HTTP path, e.g. /healthz.", pattern=r"^/[^\s]*$",
        max_length=1024,
    )  # fmt: skip
    port: PortReference = Field(description="Port number or name.")
    host: str | None = Field(
        default=None, description="Host to connect to; defaults to the pod IP.", max_length=253
    )
    scheme: Literal["HTTP", "HTTPS"] | None = Field(default=None, description="HTTP or HTTPS.")
    http_headers: list[HTTPHeader] = Field(
        default_factory=list, description="Headers to send.", max_length=16
    )


class TCPSocketAction(ApiModel):
    """A TCP connection to the container; connecting is success."""

    port: PortReference = Field(description="Port number or name.")
    host: str | None = Field(
        default=None, description="Host to connect to; defaults to the pod IP.", max_length=253
    )


class GRPCAction(ApiModel):
    """A gRPC health check (grpc.health.v1) on the container."""

    port: int = Field(description="Port number.", ge=1, le=65535)
    service: str | None = Field(
        default=None, description="Service name sent in the request.", max_length=256
    )


class ExecAction(ApiModel):
    """A command run in the container; exit 0 is success."""

    command: list[Annotated[str, Field(max_length=1024)]] = Field(
        description="The command and its arguments (no shell).", min_length=1, max_length=32
    )


_ONE_HANDLER = "set exactly one of exec, httpGet, tcpSocket, grpc"
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


class Probe(ApiModel):
    """A container probe (core/v1 Probe)."""

    model_config = cel(
        ("[" + ", ".join(f"has(self.{h})" for h in _HANDLERS) + "].filter(x, x).size() == 1",
         _ONE_HANDLER)
    )  # fmt: skip

    exec: ExecAction | None = Field(default=None, description="Run a command.")
    http_get: HTTPGetAction | None = Field(default=None, description="An HTTP GET.")
    tcp_socket: TCPSocketAction | None = Field(default=None, description="A TCP connect.")
    grpc: GRPCAction | None = Field(default=None, description="A gRPC health check.")
    initial_delay_seconds: int | None = Field(
        default=None, description="Seconds after start before the first probe.", ge=0, le=3600
    )
    timeout_seconds: int | None = Field(
        default=None, description="Seconds before a probe times out (default 1).", ge=1, le=3600
    )
    period_seconds: int | None = Field(
        default=None, description="Seconds between probes (default 10).", ge=1, le=3600
    )
    success_threshold: int | None = Field(
        default=None,
        description="Successes in a row that count (default 1; must be 1 for liveness).",
        ge=1,
        le=100,
    )
    failure_threshold: int | None = Field(
        default=None, description="Failures in a row that count (default 3).", ge=1, le=100
    )
    termination_grace_period_seconds: int | None = Field(
        default=None,
        description="Liveness only: grace period when the probe kills the container.",
        ge=1,
        le=86400,
    )

    @model_validator(mode="after")
    def _exactly_one_handler(self) -> Probe:
        if sum(h is not None for h in (self.exec, self.http_get, self.tcp_socket, self.grpc)) != 1:
            raise ValueError(_ONE_HANDLER)
        return self

    def manifest(self) -> dict[str, Any]:
        """The probe as a Pod carries it."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)


class ContainerPort(ApiModel):
    """A port the collector container listens on; the Service exposes it too."""

    name: str = Field(
        description="Port name, unique in the pod (an IANA service name).",
        pattern=DNS_LABEL_PATTERN,
        max_length=15,
    )
    container_port: int = Field(description="Port number.", ge=1, le=65535)
    protocol: Literal["TCP", "UDP"] = Field(default="TCP", description="TCP or UDP.")


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
