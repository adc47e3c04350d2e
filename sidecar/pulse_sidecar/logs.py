"""JSON log lines on stderr, each carrying the id of the request it is about.

One JSON object per line is what log pipelines in a cluster parse without configuration, and
the request id ties an access line to the warnings that the same request caused.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
from typing import Any

from aiohttp import abc, web

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""The id of the request being handled, set by the request-id middleware."""

REQUEST_ID = web.RequestKey("request_id", str)

_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; `extra={...}` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str) -> None:
    """Sends every logger's records, as JSON, to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLogger(abc.AbstractAccessLogger):
    """One JSON line per request, with its id, status and duration."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "request",
            extra={
                "request_id": request.get(REQUEST_ID),
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_seconds": round(time, 6),
                "remote": request.remote,
            },
        )
