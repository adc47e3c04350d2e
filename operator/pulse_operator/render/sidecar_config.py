"""A MetricsCollector's spec as the sidecar's own configuration model.

The operator builds `pulse_sidecar.config.SidecarConfig` itself, so the ConfigMap it
writes is exactly what the sidecar validates at start; credentials appear only as the
paths where their Secrets are mounted (see `credentials`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
from pydantic.alias_generators import to_camel

from pulse_operator import validation
from pulse_operator.api.common import duration_seconds
from pulse_operator.api.metricscollector import MetricsCollectorSpec, SinkSpec
from pulse_operator.render import credentials
from pulse_sidecar import config as sidecar

CONFIG_FILE = "sidecar.yaml"
SPOOL_DIR = Path("/var/lib/pulse")


def _sink(index: int, spec: SinkSpec, breaker: dict[str, Any]) -> dict[str, Any]:
    endpoint = spec.endpoint
    return {
        "type": spec.kind,
        "name": spec.name,
        "url": endpoint.url,
        "timeout_seconds": duration_seconds(endpoint.timeout),
        "push_interval_seconds": duration_seconds(spec.interval),
        "circuit_breaker": breaker,
        **({"protocol": spec.remote_write.protocol} if spec.remote_write else {}),
        **credentials.sink_settings(index, spec),
    }


def sidecar_config(name: str, namespace: str, spec: MetricsCollectorSpec) -> sidecar.SidecarConfig:
    """The sidecar configuration for one MetricsCollector (the pod name comes from the
    downward API at run time). Raises SpecError when the sidecar's model refuses it.
    """
    try:
        return sidecar.SidecarConfig.model_validate(_raw_config(name, namespace, spec))
    except pydantic.ValidationError as error:  # validated whole: errors name their place
        problems = validation.describe(sidecar.SidecarConfig, error, "sidecar")
        raise validation.SpecError([_in_users_words(p, spec) for p in problems]) from error


_Replacement = Callable[[re.Match[str], MetricsCollectorSpec], str]
_USER_FIELDS: list[tuple[str, _Replacement]] = [
    (r"collector\.(name|namespace)", lambda m, _: f"metadata.{m[1]}"),
    (r"server\.port", lambda m, _: "spec.sidecar.port"),
    (r"scrape\[(\d+)\]\.(interval|timeout)_seconds",
     lambda m, _: f"spec.scrape.targets[{m[1]}].{m[2]}"),
    (r"scrape\[(\d+)\]\.metric_relabel_configs\[(\d+)\]\.?(\w*)",
     lambda m, _: f"spec.scrape.targets[{m[1]}].metricRelabelings[{m[2]}]"
     + (f".{to_camel(m[3])}" if m[3] else "")),
    (r"scrape\[(\d+)\]\.(port|path|sample_limit|body_size_limit_bytes|job|honor_labels)",
     lambda m, _: f"spec.scrape.targets[{m[1]}].{to_camel(m[2])}"),
    (r"scrape\[(\d+)\]", lambda m, _: f"spec.scrape.targets[{m[1]}]"),
    (r"ingest\.(\w+)", lambda m, _: f"spec.ingest.{to_camel(m[1])}"),
    (r"sinks\[(\d+)\]\.(url|timeout)(_seconds)?", lambda m, spec: _endpoint_field(m, spec)),
    (r"sinks\[(\d+)\]\.push_interval_seconds", lambda m, _: f"spec.sinks[{m[1]}].interval"),
    (r"sinks\[(\d+)\]\.circuit_breaker\.(\w+)",
     lambda m, _: f"spec.circuitBreaker.{to_camel(m[2])}"),
    (r"sinks\[(\d+)\]", lambda m, _: f"spec.sinks[{m[1]}]"),
    (r"buffer\.max_samples", lambda m, _: "spec.buffer.maxSamples"),
    (r"spool\.max_bytes", lambda m, _: "spec.buffer.spoolMaxBytes"),
    (r"log_level", lambda m, _: "spec.sidecar.logLevel"),
]  # fmt: skip


def _endpoint_field(match: re.Match[str], spec: MetricsCollectorSpec) -> str:
    """sinks[0].url is spec.sinks[0].remoteWrite.url (or .pushgateway, .otlp)."""
    index = int(match[1])
    kind = to_camel(spec.sinks[index].kind) if index < len(spec.sinks) else "endpoint"
    return f"spec.sinks[{index}].{kind}.{match[2]}"


def _in_users_words(problem: str, spec: MetricsCollectorSpec) -> str:
    """A problem the sidecar's model found ("sidecar.sinks[0].url: ..."), at the field of
    the MetricsCollector it came from: users never see the sidecar's own file. The
    MetricsCollector's model refuses all of these first; this keeps the words right if
    the two ever drift apart."""
    path, _, message = problem.partition(": ")
    inner = path.removeprefix("sidecar.")
    for pattern, replacement in _USER_FIELDS:
        match = re.match(pattern, inner)
        if match is not None:
            return f"{replacement(match, spec)}{inner[match.end() :]}: {message}"
    return f"spec: the sidecar refuses the configuration made from it ({inner}): {message}"


def _raw_config(name: str, namespace: str, spec: MetricsCollectorSpec) -> dict[str, Any]:
    breaker = {
        "failure_threshold": spec.circuit_breaker.failure_threshold,
        "open_seconds": spec.circuit_breaker.open_seconds,
        "max_open_seconds": spec.circuit_breaker.max_open_seconds,
    }
    ingest = spec.ingest
    return {
        "collector": {"name": name, "namespace": namespace},
        "server": {"port": spec.sidecar.port},
        "scrape": [
            {
                "name": f"target-{i}-port-{target.port}",
                "port": target.port,
                "path": target.path,
                "interval_seconds": duration_seconds(target.interval),
                "timeout_seconds": duration_seconds(target.timeout),
                "sample_limit": target.sample_limit,
                "body_size_limit_bytes": target.body_size_limit_bytes,
                "job": target.job,
                "honor_labels": target.honor_labels,
                "metric_relabel_configs": [
                    rule.model_dump(exclude_none=True) for rule in target.metric_relabelings
                ],
            }
            for i, target in enumerate(spec.scrape.targets)
        ],
        "ingest": {
            "enabled": ingest.enabled,
            "api_keys_dir": str(credentials.API_KEYS_DIR) if ingest.api_keys_secret else None,
            "rate_limit_per_minute": ingest.rate_limit_per_minute,
            "max_series_per_metric": ingest.max_series_per_metric,
            "allowed_types": list(ingest.allowed_types) or None,
        },
        "sinks": [_sink(index, sink, breaker) for index, sink in enumerate(spec.sinks)],
        "buffer": {"max_samples": spec.buffer.max_samples},
        "spool": {
            "path": str(SPOOL_DIR / "spool.db"),
            "max_bytes": spec.buffer.spool_max_bytes,
        },
        "log_level": spec.sidecar.log_level.upper(),
    }
