"""The operator's configuration, read once from the environment and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pydantic

from pulse_operator import __version__
from pulse_operator.api.labels import ObjectLabels

_LABELS: pydantic.TypeAdapter[dict[str, str]] = pydantic.TypeAdapter(ObjectLabels)


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use."""


@dataclass(frozen=True)
class OperatorSettings:
    """Everything the renderers and handlers need beyond a resource's own spec."""

    sidecar_image: str = f"pulse-sidecar:{__version__}"
    """Sidecar image for MetricsCollectors that do not name one (PULSE_SIDECAR_IMAGE)."""

    runbook_base_url: str = "https://github.com/pulse-dev/pulse/blob/main/docs/runbooks"
    """Where the runbooks of generated alerts live (PULSE_RUNBOOK_BASE_URL): point it at
    your own copy of docs/runbooks/ to add local knowledge."""

    selector_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels put on every PrometheusRule, ServiceMonitor and PodMonitor Pulse creates
    (PULSE_SELECTOR_LABELS, `key=value,...`), under the resource's own: what the cluster's
    Prometheus selects by, set once (kube-prometheus-stack: release=<its release name>)."""

    field_manager: str = "pulse-operator"
    """The one server-side-apply field manager every write uses."""

    worker_limit: int = 200
    """kopf's concurrent per-object workers, per kind: how many objects are handled at
    once. It does not bound memory by itself: events of objects waiting for a worker
    queue up in kopf, parsed. Measured at 1000 collectors (docs/benchmarks.md): with
    workers freed after 0.5 s, 32 slots peaked at 164-207 MiB against 296 MiB for 200 at
    about the same convergence time; that pairing is not shipped yet (see
    worker_idle_seconds)."""

    worker_idle_seconds: float = 5.0
    """Seconds a kopf worker waits for its object's next event before it exits and frees
    its slot of worker_limit and the body it holds (kopf's default). 0.5 s with 32 slots
    was the leanest setting measured, but with it an operator denied `watch` reconciled
    new objects within 3 s by re-listing (the RBAC test of that permission failed), so it
    waits until that interaction is understood."""

    max_workers: int = 16
    """Threads of kopf's pool for Pulse's synchronous handlers: how many reconciliations
    make API calls at once."""

    watch_server_timeout_seconds: int = 300
    """Seconds the API server keeps one watch request open before kopf starts a new one."""

    watch_client_timeout_seconds: int = 330
    """Seconds after which kopf gives up on a silent watch connection: longer than the
    server's timeout, so only a connection that died (not a quiet one) is cut."""

    secret_retry_seconds: float = 30.0
    """Seconds between retries while a referenced Secret is missing: creating it is a
    human step, and the retry is one metadata read."""

    rejected_retry_seconds: float = 30.0
    """Seconds before the first retry after the API server refused a child; each further
    retry waits twice as long, up to rejected_retry_max_seconds. Only a new spec can
    really help, and a refusal is logged once per retry."""

    rejected_retry_max_seconds: float = 600.0
    """The longest wait between retries of a refused child."""

    pod_status_refresh_seconds: float = 10.0
    """Seconds between re-reads of a collector's pods while they are not Ready. Only such
    collectors get the timer (kopf starts and stops it as the status changes), and the
    first read comes one period after they were reported: a collector that is Ready
    within that costs nothing."""

    prometheus_url: str = ""
    """A Prometheus HTTP API to ask whether Pulse's rules are loaded and what the SLOs'
    numbers are (PULSE_PROMETHEUS_URL, e.g. http://prometheus-operated.monitoring:9090).
    Empty: no Loaded or DataPresent condition and no live SLO numbers."""

    live_status_seconds: float = 300.0
    """Seconds between live status refreshes (PULSE_LIVE_STATUS_SECONDS): the Prometheus
    is asked twice per period whatever the number of objects, and each object's status
    is written at most once per period, only when a rounded number or a condition moved."""

    prometheus_timeout_seconds: float = 10.0
    """How long one request to the Prometheus may take (PULSE_PROMETHEUS_TIMEOUT_SECONDS)."""

    prometheus_max_bytes: int = 16 * 2**20
    """The largest answer read from the Prometheus (PULSE_PROMETHEUS_MAX_BYTES); a larger
    one is dropped as it streams in, and the live status says so."""

    @property
    def http_pool_size(self) -> int:
        """Connections the API client keeps: two per worker thread, so a burst in which
        every worker calls the API never opens and drops connections."""
        return 2 * self.max_workers

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        env = os.environ if env is None else env
        image = env.get("PULSE_SIDECAR_IMAGE", cls.sidecar_image)
        runbooks = env.get("PULSE_RUNBOOK_BASE_URL", cls.runbook_base_url).rstrip("/")
        if not image.strip():
            raise SettingsError("PULSE_SIDECAR_IMAGE must not be empty")
        if not runbooks.startswith(("http://", "https://")):
            raise SettingsError(f"PULSE_RUNBOOK_BASE_URL must be an http(s) URL, not {runbooks!r}")
        labels = parse_selector_labels(env.get("PULSE_SELECTOR_LABELS", ""))
        prometheus = env.get("PULSE_PROMETHEUS_URL", "").strip().rstrip("/")
        if prometheus and not prometheus.startswith(("http://", "https://")):
            raise SettingsError(f"PULSE_PROMETHEUS_URL must be an http(s) URL, not {prometheus!r}")
        return cls(
            sidecar_image=image,
            runbook_base_url=runbooks,
            selector_labels=labels,
            prometheus_url=prometheus,
            live_status_seconds=_positive(
                env, "PULSE_LIVE_STATUS_SECONDS", cls.live_status_seconds
            ),
            prometheus_timeout_seconds=_positive(
                env, "PULSE_PROMETHEUS_TIMEOUT_SECONDS", cls.prometheus_timeout_seconds
            ),
            prometheus_max_bytes=int(
                _positive(env, "PULSE_PROMETHEUS_MAX_BYTES", cls.prometheus_max_bytes)
            ),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment, or `default` when it is not set."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a positive number, not {text!r}")
    return value


def parse_selector_labels(text: str) -> dict[str, str]:
    """`release=kps,team=a` as labels, refused as the CRDs refuse a spec's labels."""
    pairs = [item.strip() for item in text.split(",") if item.strip()]
    if malformed := [item for item in pairs if "=" not in item]:
        raise SettingsError(f"PULSE_SELECTOR_LABELS: {malformed[0]!r} is not key=value")
    labels = dict(item.split("=", 1) for item in pairs)
    try:
        return _LABELS.validate_python({k.strip(): v.strip() for k, v in labels.items()})
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        raise SettingsError(f"PULSE_SELECTOR_LABELS: {problem['msg']}") from error
