"""A MetricsCollector's spec as the sidecar's own configuration model.

The operator builds `pulse_sidecar.config.SidecarConfig` itself, so the ConfigMap it
writes is exactly what the sidecar validates at start; credentials appear only as the
paths where their Secrets are mounted (see `credentials`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

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
        **credentials.sink_settings(index, spec),
    }


def sidecar_config(name: str, namespace: str, spec: MetricsCollectorSpec) -> sidecar.SidecarConfig:
    """The sidecar configuration for one MetricsCollector (the pod name comes from the
    downward API at run time). Raises SpecError when the sidecar's model refuses it.
    """
    try:
        return sidecar.SidecarConfig.model_validate(_raw_config(name, namespace, spec))
    except pydantic.ValidationError as error:  # validated whole: errors name their place
        problems = validation.describe(sidecar.SidecarConfig, error, "sidecar configuration")
        raise validation.SpecError(problems) from error


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
