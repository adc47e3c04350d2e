"""The typed keys of the application's state, shared by the factory and the handlers."""

from __future__ import annotations

import dataclasses
import time

from aiohttp import web
from prometheus_client import CollectorRegistry

from pulse_sidecar import config, forwarder, pipeline, spool, telemetry
from pulse_sidecar.ingest import auth, ratelimit, series
from pulse_sidecar.sources import dependencies, local, scrape


@dataclasses.dataclass
class Lifecycle:
    """Facts about this run that /health, /ready and /status report."""

    version: str
    container_id: str
    started: float = dataclasses.field(default_factory=time.monotonic)
    shutting_down: bool = False
    api_keys_error: str | None = None
    """Why the last reload of the API keys failed; the previous keys stay in use."""

    def uptime_seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


CONFIG = web.AppKey("config", config.SidecarConfig)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
REGISTRY = web.AppKey("registry", CollectorRegistry)
TELEMETRY = web.AppKey("telemetry", telemetry.Telemetry)
API_KEYS = web.AppKey("api_keys", auth.ApiKeys)
RATE_LIMITER = web.AppKey("rate_limiter", ratelimit.RateLimiter)
EVENT_SERIES = web.AppKey("event_series", series.EventSeries)
ALLOWED_TYPES = web.AppKey[frozenset[str] | None]("allowed_types")
"""ingest.allowed_types as a set, made once rather than on every POST /metrics."""
LOCAL_SOURCES = web.AppKey("local_sources", list[local.CollectorSource])
"""Events and resources: collected on their interval, and at once on /flush and shutdown."""

# Set while the application starts, by its cleanup contexts.
SPOOL = web.AppKey[spool.Spool | None]("spool")
FORWARDERS = web.AppKey("forwarders", list[forwarder.Forwarder])
PIPELINE = web.AppKey("pipeline", pipeline.Pipeline)
SCRAPES = web.AppKey("scrapes", list[scrape.ScrapeSource])
CHECKS = web.AppKey("checks", list[dependencies.DependencyCheck])
