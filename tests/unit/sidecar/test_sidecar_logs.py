"""Log lines are JSON objects, and those about a request carry its id."""

from __future__ import annotations

import json
import logging

import pytest
from sidecar_testing import StartSidecar

from pulse_sidecar import logs


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "pulse", "levelname": "WARNING", "msg": message})
    made.__dict__.update(extra)
    return made


def test_a_line_is_one_json_object_with_the_extra_fields() -> None:
    line = json.loads(logs.JsonFormatter().format(record("sink failed", sink="prom", attempt=2)))
    assert {k: line[k] for k in ("level", "logger", "message", "sink", "attempt")} == {
        "level": "warning",
        "logger": "pulse",
        "message": "sink failed",
        "sink": "prom",
        "attempt": 2,
    }
    assert "request_id" not in line


def test_a_line_written_while_handling_a_request_carries_its_id() -> None:
    token = logs.request_id.set("abc123")
    try:
        line = json.loads(logs.JsonFormatter().format(record("events rejected")))
    finally:
        logs.request_id.reset(token)
    assert line["request_id"] == "abc123"


async def test_the_ingest_log_line_has_the_id_the_caller_sees(
    start_sidecar: StartSidecar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pulse_sidecar.handlers")
    client = await start_sidecar()
    handler_records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, made: logging.LogRecord) -> None:
            made.request_id = logs.request_id.get()
            handler_records.append(made)

    keep = Keep()
    logging.getLogger("pulse_sidecar.handlers").addHandler(keep)
    try:
        response = await client.post(
            "/metrics", json={"service": "s", "metrics": [{"type": "t", "value": "x"}]}
        )
    finally:
        logging.getLogger("pulse_sidecar.handlers").removeHandler(keep)
    (line,) = [r for r in handler_records if r.getMessage() == "events rejected"]
    assert line.request_id == response.headers["X-Request-ID"]
