"""The HTTP API of the contract, as a route table; the application factory adds it."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import exposition

from pulse_sidecar import appstate, logs, middlewares, status
from pulse_sidecar.ingest import auth, events, series

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Answering at all proves the event loop is responsive, which is what liveness asks."""
    lifecycle = request.app[appstate.LIFECYCLE]
    return web.json_response({"status": "healthy", "uptime_seconds": lifecycle.uptime_seconds()})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Ready unless stopping: an upstream outage is absorbed by the spool, not by the pod."""
    if request.app[appstate.LIFECYCLE].shutting_down:
        return middlewares.error_response(
            503, "shutting down", status="not_ready", reasons=["shutting down"]
        )
    return web.json_response({"status": "ready"})


@routes.get("/metrics")
async def expose(request: web.Request) -> web.Response:
    """Own metrics and event series; OpenMetrics when the Accept header asks for it."""
    encoder, content_type = exposition.choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[appstate.REGISTRY])
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/status")
async def status_document(request: web.Request) -> web.Response:
    return web.json_response(status.document(request.app))


@routes.post("/flush")
async def flush(request: web.Request) -> web.Response:
    """Collects events and resources now, then pushes every sink's buffer and spool."""
    app = request.app
    for source in app[appstate.LOCAL_SOURCES]:
        await app[appstate.PIPELINE].run(source)
    forwarders = app[appstate.FORWARDERS]
    sent = await asyncio.gather(*(f.flush() for f in forwarders))
    return web.json_response(
        {
            "sent": dict(zip((f.name for f in forwarders), sent, strict=True)),
            "total": sum(sent),
            "request_id": request[logs.REQUEST_ID],
        }
    )


@routes.get("/rate-limit")
async def rate_limit(request: web.Request) -> web.Response:
    """The caller's bucket, without spending from it."""
    quota = request.app[appstate.RATE_LIMITER].peek(_caller(request))
    return web.json_response(
        {"limit": quota.limit, "remaining": quota.remaining, "reset_seconds": quota.reset_seconds},
        headers=quota.headers(),
    )


@routes.post("/metrics")
async def ingest(request: web.Request) -> web.Response:
    """Event ingest: authenticate, rate-limit, bound, validate, then record event by event."""
    app = request.app
    settings = app[appstate.CONFIG].ingest
    if not settings.enabled:
        raise web.HTTPNotFound(text="event ingest is disabled in this collector's configuration")
    if app[appstate.LIFECYCLE].shutting_down:
        raise web.HTTPServiceUnavailable(text="shutting down")
    quota = app[appstate.RATE_LIMITER].take(_caller(request))
    headers = quota.headers()
    if not quota.allowed:
        raise web.HTTPTooManyRequests(
            text=f"over {quota.limit} requests per minute; retry later", headers=headers
        )
    body = await _body(request, headers)
    try:
        batch = events.parse(body, app[appstate.ALLOWED_TYPES])
    except events.MalformedBodyError as error:
        raise web.HTTPBadRequest(text=str(error), headers=headers) from None
    errors = batch.errors + _record(app[appstate.EVENT_SERIES], batch)
    rejected = len({e.index for e in errors if e.index is not None})
    if any(e.index is None for e in errors):
        rejected = batch.total
    accepted = batch.total - rejected
    errors.sort(key=lambda e: -1 if e.index is None else e.index)
    _count(app, accepted, rejected, errors)
    answer = {
        "status": "success" if rejected == 0 else "partial",
        "accepted": accepted,
        "rejected": rejected,
        "errors": [e.as_json() for e in errors],
        "request_id": request[logs.REQUEST_ID],
    }
    if accepted == 0:
        return middlewares.error_response(
            422, f"none of the {batch.total} events was accepted", headers, **answer
        )
    return web.json_response(answer, headers=headers)


def _caller(request: web.Request) -> str:
    """The caller's rate-limit bucket; raises 401 when the caller may not post."""
    keys = request.app[appstate.API_KEYS]
    if keys.configured:
        key_id = keys.identify(request.headers.get("X-API-Key"))
        if key_id is None:
            raise web.HTTPUnauthorized(text="missing or wrong X-API-Key")
        return key_id
    if not auth.is_loopback(request.remote):
        raise web.HTTPUnauthorized(
            text="no API keys are configured, so only callers on loopback are accepted"
        )
    return auth.LOOPBACK_BUCKET


async def _body(request: web.Request, headers: dict[str, str]) -> bytes:
    """The body, refused with 413 before reading when it announces more than the limit,
    and with 408 when it takes longer than the read timeout to arrive."""
    limit = events.MAX_BODY_BYTES
    too_large = f"the body is over the limit of {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit, actual_size=request.content_length, text=too_large, headers=headers
        )
    timeout = request.app[appstate.CONFIG].server.read_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit, actual_size=limit + 1, text=too_large, headers=headers
        ) from None
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the body did not arrive within {timeout:g}s", headers=headers
        ) from None


def _record(store: series.EventSeries, batch: events.Batch) -> list[events.FieldError]:
    """Records the valid events; returns errors for those the store refused."""
    errors = []
    for index, event in batch.events:
        duration = None if event.duration_ms is None else event.duration_ms / 1000
        try:
            store.record(event.type, event.dimensions, batch.service, event.value, duration)
        except series.SeriesRejectedError as error:
            errors.append(events.FieldError(index, f"metrics[{index}].{error.field}", str(error)))
    return errors


def _count(
    app: web.Application, accepted: int, rejected: int, errors: list[events.FieldError]
) -> None:
    metrics = app[appstate.TELEMETRY]
    metrics.events.labels("accepted").inc(accepted)
    metrics.events.labels("rejected").inc(rejected)
    if rejected:
        log.info(
            "events rejected",
            extra={"accepted": accepted, "rejected": rejected, "first_error": errors[0].as_json()},
        )
