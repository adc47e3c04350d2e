"""Cross-cutting request handling: a request id on everything, and errors as JSON."""

from __future__ import annotations

import logging
import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from pulse_sidecar import logs

log = logging.getLogger(__name__)

_CALLER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Takes the caller's X-Request-ID when it is sane, else makes one; echoes it back."""
    given = request.headers.get("X-Request-ID", "")
    current = given if _CALLER_ID.match(given) else uuid.uuid4().hex
    request[logs.REQUEST_ID] = current
    token = logs.request_id.set(current)
    try:
        response = await handler(request)
    finally:
        logs.request_id.reset(token)
    response.headers["X-Request-ID"] = current
    return response


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer is `{"detail": ..., "status_code": ...}`, whoever raised it."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {k: v for k, v in error.headers.items() if k.lower() != "content-type"}
        return error_response(error.status, error.text or error.reason, headers)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(500, "internal error; see the sidecar's log for this request id")


def error_response(
    code: int, detail: str, headers: dict[str, str] | None = None, **fields: object
) -> web.Response:
    """The JSON error body of the contract, with any further fields."""
    body = {**fields, "detail": detail, "status_code": code}
    return web.json_response(body, status=code, headers=headers)
