"""Invalid MetricsCollector specs, each with the field to blame and what the API server
says. The same table drives the admission tests (real API server) and the model tests
(offline), so the CRD's schema and CEL rules and the pydantic models cannot drift apart.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

VALID_SPEC: dict[str, Any] = {"collector": {"image": "example.com/app:1"}}


def _sink(name: str = "s", **kinds: Any) -> dict[str, Any]:
    return {"name": name, **kinds}


RW = {"url": "http://prometheus:9090/api/v1/write"}


@dataclass(frozen=True)
class InvalidCase:
    """One spec that must be rejected."""

    id: str
    changes: dict[str, Any]
    field: str
    """The field path both the API server and the models name (spec.…)."""
    api_message: str
    """A fragment of the API server's message."""

    def spec(self) -> dict[str, Any]:
        spec = copy.deepcopy(VALID_SPEC)
        for key, value in self.changes.items():
            if value is None:
                spec.pop(key, None)
            elif isinstance(value, dict) and isinstance(spec.get(key), dict):
                spec[key] = {**spec[key], **value}
            else:
                spec[key] = value
        return spec


def _container(**fields: Any) -> dict[str, Any]:
    return {"collector": {"image": "example.com/app:1", **fields}}


INVALID_COLLECTORS = [
    InvalidCase("no collector", {"collector": None}, "spec.collector", "Required value"),
    InvalidCase(
        "empty image", {"collector": {"image": ""}}, "spec.collector.image", "at least 1 chars"
    ),
    InvalidCase(
        "negative replicas", {"replicas": -1}, "spec.replicas", "greater than or equal to 0"
    ),
    InvalidCase(
        "too many replicas", {"replicas": 101}, "spec.replicas", "less than or equal to 100"
    ),
    InvalidCase("misspelt field", {"replica": 2}, "spec.replica", "unknown field"),
    InvalidCase(
        "privileged sidecar port",
        {"sidecar": {"port": 80}},
        "spec.sidecar.port",
        "greater than or equal to 1024",
    ),
    InvalidCase(
        "port zero",
        _container(ports=[{"name": "http", "containerPort": 0}]),
        "spec.collector.ports[0].containerPort",
        "greater than or equal to 1",
    ),
    InvalidCase(
        "port name not a DNS label",
        _container(ports=[{"name": "HTTP_1", "containerPort": 8080}]),
        "spec.collector.ports[0].name",
        "should match",
    ),
    InvalidCase(
        "collector port is the sidecar's",
        _container(ports=[{"name": "http", "containerPort": 8000}]),
        "spec.collector.ports",
        "must not use the sidecar's port",
    ),
    InvalidCase(
        "duplicate port names",
        _container(
            ports=[{"name": "http", "containerPort": 8080}, {"name": "http", "containerPort": 8081}]
        ),
        "spec.collector.ports",
        "Duplicate value",
    ),
    InvalidCase(
        "cpu request above limit",
        _container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        "spec.collector.resources",
        "requests.cpu must not exceed limits.cpu",
    ),
    InvalidCase(
        "memory request above limit",
        _container(resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}),
        "spec.collector.resources",
        "requests.memory must not exceed limits.memory",
    ),
    InvalidCase(
        "not a quantity",
        _container(resources={"requests": {"cpu": "lots"}}),
        "spec.collector.resources.requests.cpu",
        "should match",
    ),
    InvalidCase(
        "scrape timeout above interval",
        {"scrape": {"targets": [{"port": 9102, "interval": "10s", "timeout": "30s"}]}},
        "spec.scrape.targets[0]",
        "timeout must not exceed interval",
    ),
    InvalidCase(
        "interval in words",
        {"scrape": {"targets": [{"port": 9102, "interval": "30 seconds"}]}},
        "spec.scrape.targets[0].interval",
        "should match",
    ),
    InvalidCase(
        "relative scrape path",
        {"scrape": {"targets": [{"port": 9102, "path": "metrics"}]}},
        "spec.scrape.targets[0].path",
        "should match",
    ),
    InvalidCase(
        "sink of no kind",
        {"sinks": [_sink()]},
        "spec.sinks[0]",
        "set exactly one of remoteWrite, pushgateway, otlp",
    ),
    InvalidCase(
        "sink of two kinds",
        {"sinks": [_sink(remoteWrite=RW, otlp={"url": "http://collector:4318/v1/metrics"})]},
        "spec.sinks[0]",
        "set exactly one of remoteWrite, pushgateway, otlp",
    ),
    InvalidCase(
        "sink url not http",
        {"sinks": [_sink(remoteWrite={"url": "ftp://prometheus/write"})]},
        "spec.sinks[0].remoteWrite.url",
        "should match",
    ),
    InvalidCase(
        "duplicate sink names",
        {"sinks": [_sink("a", remoteWrite=RW), _sink("a", remoteWrite=RW)]},
        "spec.sinks",
        "Duplicate value",
    ),
    InvalidCase(
        "bearer token and basic auth",
        {
            "sinks": [
                _sink(
                    remoteWrite=RW,
                    auth={
                        "bearerToken": {"name": "t", "key": "token"},
                        "username": {"name": "u", "key": "user"},
                        "password": {"name": "u", "key": "pass"},
                    },
                )
            ]
        },
        "spec.sinks[0].auth",
        "use either bearerToken or username/password, not both",
    ),
    InvalidCase(
        "username without password",
        {"sinks": [_sink(remoteWrite=RW, auth={"username": {"name": "u", "key": "user"}})]},
        "spec.sinks[0].auth",
        "username and password go together",
    ),
    InvalidCase(
        "breaker cap below first wait",
        {"circuitBreaker": {"openSeconds": 100, "maxOpenSeconds": 10}},
        "spec.circuitBreaker",
        "maxOpenSeconds must be at least openSeconds",
    ),
    InvalidCase(
        "breaker that never opens",
        {"circuitBreaker": {"failureThreshold": 0}},
        "spec.circuitBreaker.failureThreshold",
        "greater than or equal to 1",
    ),
    InvalidCase(
        "api keys with ingest off",
        {"ingest": {"enabled": False, "apiKeysSecret": "keys"}},
        "spec.ingest",
        "apiKeysSecret requires enabled: true",
    ),
    InvalidCase(
        "zero rate limit",
        {"ingest": {"rateLimitPerMinute": 0}},
        "spec.ingest.rateLimitPerMinute",
        "greater than or equal to 1",
    ),
    InvalidCase(
        "tiny spool",
        {"buffer": {"spoolMaxBytes": 100}},
        "spec.buffer.spoolMaxBytes",
        "greater than or equal to 1048576",
    ),
    InvalidCase(
        "zero error threshold",
        {"alerting": {"errorRateThreshold": 0}},
        "spec.alerting.errorRateThreshold",
        "greater than 0",
    ),
    InvalidCase(
        "unknown monitor kind",
        {"monitor": {"kind": "Both"}},
        "spec.monitor.kind",
        "Unsupported value",
    ),
    InvalidCase(
        "too many sinks",
        {"sinks": [_sink(f"s{i}", remoteWrite=RW) for i in range(9)]},
        "spec.sinks",
        "must have at most 8 items",
    ),
    InvalidCase(
        "unknown log level",
        {"sidecar": {"logLevel": "verbose"}},
        "spec.sidecar.logLevel",
        "Unsupported value",
    ),
    InvalidCase(
        "unknown toleration effect",
        {"tolerations": [{"key": "dedicated", "effect": "NoRun"}]},
        "spec.tolerations[0].effect",
        "Unsupported value",
    ),
    InvalidCase(
        "toleration Exists with a value",
        {"tolerations": [{"key": "dedicated", "operator": "Exists", "value": "x"}]},
        "spec.tolerations[0]",
        "value must be empty when operator is Exists",
    ),
    InvalidCase(
        "tolerationSeconds without NoExecute",
        {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 30}]},
        "spec.tolerations[0]",
        "tolerationSeconds applies only to effect NoExecute",
    ),
]
