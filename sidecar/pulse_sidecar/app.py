"""The application factory: every component is created and wired here, and nowhere else.

Start order: the spool and the sinks' forwarders, then the sources that feed them.
Stop order (SIGTERM) is the reverse: aiohttp stops accepting connections and /ready turns
503; the sources stop and the events and resources are collected one last time; a push under
way finishes, then every sink pushes what it holds, all within the grace period; what is left
goes to the spool; exit 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from pulse_sidecar import (
    appstate,
    breaker,
    config,
    config_loader,
    delivery,
    forwarder,
    handlers,
    identity,
    middlewares,
    pipeline,
    spool,
    tasks,
    telemetry,
)
from pulse_sidecar.ingest import auth, events, ratelimit, series
from pulse_sidecar.sinks import otlp, pushgateway, remote_write
from pulse_sidecar.sources import dependencies, local, resources, scrape

log = logging.getLogger(__name__)

API_KEYS_RELOAD_SECONDS = 30.0
"""Kubernetes refreshes mounted Secrets within about a minute; this follows it closely."""


def create_app(settings: config.SidecarConfig) -> web.Application:
    """The sidecar for `settings`; background work starts with the application."""
    registry = CollectorRegistry()
    metrics = telemetry.Telemetry(registry)
    lifecycle = appstate.Lifecycle(version=identity.version(), container_id=identity.container_id())
    metrics.info.info({"version": lifecycle.version, "container_id": lifecycle.container_id})
    metrics.spool_limit_bytes.set(settings.spool.max_bytes)
    labels = identity.labels(settings.collector)
    local_sources = []
    if settings.resources.enabled:
        cgroups = resources.CgroupCollector(settings.resources.cgroup_root)
        registry.register(cgroups)
        local_sources.append(
            local.CollectorSource("resources", settings.resources.interval_seconds, cgroups, labels)
        )
    own_families = frozenset(family.name for family in registry.collect())
    event_series = series.EventSeries(
        settings.ingest.max_metrics, settings.ingest.max_series_per_metric, own_families
    )
    registry.register(event_series)
    if settings.ingest.enabled:
        local_sources.append(
            local.CollectorSource("events", settings.ingest.interval_seconds, event_series, labels)
        )
    try:
        api_keys = auth.ApiKeys(settings.ingest.api_keys_dir)
    except OSError as error:
        where = str(settings.ingest.api_keys_dir)
        raise config_loader.ConfigError(
            where, [f"ingest.api_keys_dir: cannot read the API keys: {error}"]
        ) from error

    app = web.Application(
        middlewares=[middlewares.request_id, middlewares.errors_as_json],
        client_max_size=events.MAX_BODY_BYTES,
    )
    app[appstate.CONFIG] = settings
    allowed_types = settings.ingest.allowed_types
    app[appstate.ALLOWED_TYPES] = None if allowed_types is None else frozenset(allowed_types)
    app[appstate.LIFECYCLE] = lifecycle
    app[appstate.REGISTRY] = registry
    app[appstate.TELEMETRY] = metrics
    app[appstate.API_KEYS] = api_keys
    app[appstate.RATE_LIMITER] = ratelimit.RateLimiter(settings.ingest.rate_limit_per_minute)
    app[appstate.EVENT_SERIES] = event_series
    app[appstate.LOCAL_SOURCES] = local_sources
    app.add_routes(handlers.routes)
    app.on_shutdown.append(_stop_accepting)
    app.cleanup_ctx.append(_forwarding)
    app.cleanup_ctx.append(_collecting)
    return app


async def _stop_accepting(app: web.Application) -> None:
    app[appstate.LIFECYCLE].shutting_down = True
    log.info("shutting down")


async def _forwarding(app: web.Application) -> AsyncIterator[None]:
    """The spool and one forwarder per sink, each pushing on its interval."""
    settings = app[appstate.CONFIG]
    metrics = app[appstate.TELEMETRY]
    durable = None
    spooling = [s.name for s in settings.sinks if not isinstance(s, config.PushgatewaySink)]
    if spooling:
        durable = spool.Spool(settings.spool.path, settings.spool.max_bytes, metrics)
        await durable.open(spooling)
    forwarders = [_forwarder(sink, settings, durable, metrics) for sink in settings.sinks]
    app[appstate.SPOOL] = durable
    app[appstate.FORWARDERS] = forwarders
    pushing = tasks.TaskGroup()
    for sink, each in zip(settings.sinks, forwarders, strict=True):
        pushing.start(sink.push_interval_seconds, each.flush, f"push/{sink.name}")
    yield
    grace = settings.server.shutdown_grace_seconds
    deadline = asyncio.get_running_loop().time() + grace
    # A push under way ends as it would have: a request cut off may still be stored by the
    # receiver, and must not overlap the last push of the same series.
    await pushing.finish(grace)
    try:
        async with asyncio.timeout_at(deadline):
            outcomes = await asyncio.gather(
                *(each.flush() for each in forwarders), return_exceptions=True
            )
        for each, outcome in zip(forwarders, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.error("last push failed", extra={"sink": each.name, "error": repr(outcome)})
    except TimeoutError:
        log.warning("shutdown grace period over; spooling what was not sent")
    for each in forwarders:
        try:
            await each.stop()
        except Exception:
            log.exception("could not stop a sink cleanly", extra={"sink": each.name})
    if durable is not None:
        await durable.close()


def _forwarder(
    sink: config.SinkConfig,
    settings: config.SidecarConfig,
    durable: spool.Spool | None,
    metrics: telemetry.Telemetry,
) -> forwarder.Forwarder:
    circuit = breaker.CircuitBreaker(
        sink.circuit_breaker, on_transition=_circuit_metrics(sink.name, metrics)
    )
    sending = delivery.Delivery(sink.name, circuit, sink.retry, metrics)
    if isinstance(sink, config.PushgatewaySink):
        gateway = pushgateway.PushgatewaySink(sink, settings.collector, metrics)
        return forwarder.SnapshotForwarder(
            sink.type, gateway, sending, settings.buffer.max_samples, metrics
        )
    assert durable is not None, "a spool is opened whenever a stream sink is configured"
    stream: forwarder.StreamSink = (
        remote_write.RemoteWriteSink(sink, metrics)
        if isinstance(sink, config.RemoteWriteSink)
        else otlp.OtlpSink(sink, metrics)
    )
    return forwarder.QueueForwarder(
        sink.type, stream, sending, durable, settings.buffer.max_samples, metrics
    )


def _circuit_metrics(
    sink: str, metrics: telemetry.Telemetry
) -> Callable[[breaker.State, breaker.State], None]:
    """Keeps `collector_circuit_state` and the transitions counter in step with a breaker."""
    for state in breaker.State:
        metrics.circuit_state.labels(sink, state.value).set(
            1 if state is breaker.State.CLOSED else 0
        )

    def changed(old: breaker.State, new: breaker.State) -> None:
        metrics.circuit_state.labels(sink, old.value).set(0)
        metrics.circuit_state.labels(sink, new.value).set(1)
        metrics.circuit_transitions.labels(sink, new.value).inc()
        log.warning("circuit %s", new.value, extra={"sink": sink, "from": old.value})

    return changed


async def _collecting(app: web.Application) -> AsyncIterator[None]:
    """The pipeline, every source on its interval, the dependency checks, key reloads."""
    settings = app[appstate.CONFIG]
    metrics = app[appstate.TELEMETRY]
    outlets: list[forwarder.Forwarder] = app[appstate.FORWARDERS]
    running = pipeline.Pipeline(outlets, metrics)
    session = aiohttp.ClientSession()
    labels = identity.labels(settings.collector)
    scrapes = [scrape.ScrapeSource(target, session, metrics, labels) for target in settings.scrape]
    checks = [
        dependencies.DependencyCheck(check, session, metrics) for check in settings.dependencies
    ]
    app[appstate.PIPELINE] = running
    app[appstate.SCRAPES] = scrapes
    app[appstate.CHECKS] = checks
    collecting = tasks.TaskGroup()
    sources: list[pipeline.Source] = [*app[appstate.LOCAL_SOURCES], *scrapes]
    for source in sources:
        collecting.start(
            source.interval_seconds, functools.partial(running.run, source), source.name
        )
    for check in checks:
        collecting.start(check.settings.interval_seconds, check.run, f"check/{check.settings.name}")
    if settings.ingest.api_keys_dir is not None:
        collecting.start(API_KEYS_RELOAD_SECONDS, functools.partial(_reload_api_keys, app), "keys")
    yield
    await collecting.stop()
    for source in app[appstate.LOCAL_SOURCES]:
        await running.run(source)
    await session.close()


async def _reload_api_keys(app: web.Application) -> None:
    lifecycle = app[appstate.LIFECYCLE]
    try:
        app[appstate.API_KEYS].reload()
    except OSError as error:
        lifecycle.api_keys_error = str(error)
        log.error(
            "cannot reload the API keys; keeping the previous ones", extra={"error": str(error)}
        )
    else:
        lifecycle.api_keys_error = None
