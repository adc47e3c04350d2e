"""The /status document and the health score, from the live components of the application.

The score is the mean health of everything that can fail, each 0 to 1: a scrape target (up or
not), a dependency (its last check), a sink (circuit closed 1, half-open 0.5, open 0). With
nothing that can fail, the score is 100.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from pulse_sidecar import appstate

_CIRCUIT_HEALTH = {"closed": 1.0, "half_open": 0.5, "open": 0.0}


def health_score(parts: list[float]) -> int:
    return 100 if not parts else round(100 * sum(parts) / len(parts))


def verdict(score: int) -> str:
    if score == 100:
        return "healthy"
    return "degraded" if score >= 50 else "unhealthy"


def document(app: web.Application) -> dict[str, Any]:
    """Everything /status answers, read from the running components."""
    settings = app[appstate.CONFIG]
    lifecycle = app[appstate.LIFECYCLE]
    pipeline = app[appstate.PIPELINE]
    durable = app[appstate.SPOOL]
    sinks = []
    for each in app[appstate.FORWARDERS]:
        sink = {"name": each.name, **each.status()}
        sink["last_success"] = _moment(sink["last_success"])
        sinks.append(sink)
    targets = [
        {
            "name": s.name,
            "type": "scrape",
            "up": s.up,
            "last_collection": _moment(pipeline.last_collection.get(s.name)),
            "last_error": s.last_error,
        }
        for s in app[appstate.SCRAPES]
    ]
    local = [
        {
            "name": s.name,
            "type": s.name,
            "last_collection": _moment(pipeline.last_collection.get(s.name)),
        }
        for s in app[appstate.LOCAL_SOURCES]
    ]
    checks = [
        {
            "name": c.settings.name,
            "type": c.settings.type,
            "target": str(c.settings.target),
            "up": None if c.last is None else c.last.up,
            "latency_seconds": None if c.last is None else round(c.last.latency_seconds, 6),
            "checked_at": None if c.last is None else _moment(c.last.checked_at),
            "error": None if c.last is None else c.last.error,
        }
        for c in app[appstate.CHECKS]
    ]
    parts = [1.0 if t["up"] else 0.0 for t in targets]
    parts += [1.0 if c["up"] else 0.0 for c in checks if c["up"] is not None]
    parts += [_CIRCUIT_HEALTH[s["circuit"]] for s in sinks]
    score = health_score(parts)
    last = max(pipeline.last_collection.values(), default=None)
    return {
        "collector": settings.collector.model_dump(),
        "status": "shutting_down" if lifecycle.shutting_down else verdict(score),
        "health_score": score,
        "version": lifecycle.version,
        "container_id": lifecycle.container_id or None,
        "uptime_seconds": lifecycle.uptime_seconds(),
        "last_collection": _moment(last),
        "sources": targets + local,
        "dependencies": checks,
        "sinks": sinks,
        "ingest": {
            "enabled": settings.ingest.enabled,
            "authentication": "api_keys" if app[appstate.API_KEYS].configured else "loopback",
            "api_keys_error": lifecycle.api_keys_error,
            "series": app[appstate.EVENT_SERIES].series_count(),
        },
        "buffer": {"samples": sum(s.get("buffered_samples", 0) for s in sinks)},
        "spool": {
            "bytes": 0 if durable is None else durable.size_bytes,
            "limit_bytes": settings.spool.max_bytes,
            "samples": sum(s.get("spooled_samples", 0) for s in sinks),
            "quarantined": None if durable is None else _quarantined(durable.quarantined),
        },
    }


def _moment(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat()


def _quarantined(damaged: Any) -> dict[str, Any] | None:
    """The last damaged spool file set aside: where its head is kept, and what was lost."""
    if damaged is None:
        return None
    return {
        "kept_as": str(damaged.kept_as),
        "file_bytes": damaged.file_bytes,
        "error": damaged.error,
        "at": _moment(damaged.at),
        "samples_lost": None if damaged.samples is None else dict(damaged.samples),
    }
