"""Validation of a `POST /metrics` body, event by event, exactly as the contract states.

A batch is judged per event: valid events are kept even when others are not, and every
rejected event gets errors naming the field as the caller wrote it (`metrics[3].value`).
Problems with the envelope (`service`, `version`, the size of `metrics`) reject every event.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from typing import Annotated, Any

import pydantic
import pydantic_core
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pulse_sidecar import config
from pulse_sidecar.config import paths

MAX_BODY_BYTES = 1024 * 1024
MAX_FUTURE = datetime.timedelta(minutes=5)
RESERVED_LABELS = frozenset({"service", "le"})
"""Labels the sidecar sets itself: `service` on every series, `le` on histogram buckets."""

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MalformedBodyError(Exception):
    """The body is not JSON of the contract's shape (answered with 400)."""


@dataclasses.dataclass(frozen=True)
class FieldError:
    index: int | None
    """The event's position in `metrics`, or None for a problem with the envelope."""
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


def _label_name(name: str) -> str:
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError("must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
    if name in RESERVED_LABELS:
        raise ValueError(f"{name!r} is set by the collector and cannot be a dimension")
    return name


def _timestamp(text: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    if moment - datetime.datetime.now(datetime.UTC) > MAX_FUTURE:
        raise ValueError("must not be more than 5 minutes in the future")
    return moment


_Strict = ConfigDict(regex_engine="python-re", extra="forbid", strict=True)
LabelName = Annotated[str, Field(max_length=50), AfterValidator(_label_name)]


class Event(BaseModel):
    model_config = _Strict

    type: str = Field(pattern=config.METRIC_NAME_PATTERN)
    value: float = Field(allow_inf_nan=False, ge=-1e12, le=1e12)
    duration_ms: float | None = Field(default=None, allow_inf_nan=False, ge=0, le=86_400_000)
    timestamp: Annotated[str, AfterValidator(_timestamp)] | None = None
    dimensions: dict[LabelName, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    metadata: dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=1000)]] = (
        Field(default_factory=dict, max_length=30)
    )


class Envelope(BaseModel):
    model_config = _Strict

    service: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    version: str | None = Field(default=None, pattern=r"^\d+\.\d+\.\d+$")
    instance_id: str | None = Field(default=None, max_length=200)
    metrics: list[Any] = Field(min_length=1, max_length=100)


@dataclasses.dataclass
class Batch:
    """The outcome of validation: the events to record, and the errors for the others."""

    service: str
    events: list[tuple[int, Event]]
    errors: list[FieldError]
    total: int


def parse(body: bytes, allowed_types: frozenset[str] | None) -> Batch:
    """Validates a request body; raises MalformedBodyError unless it is JSON of the right shape."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedBodyError(f"the body is not UTF-8 JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), list):
        raise MalformedBodyError("the body must be a JSON object with a `metrics` array")
    raw_events: list[Any] = document["metrics"]
    try:
        envelope = Envelope.model_validate(document)
    except pydantic.ValidationError as error:
        envelope_errors = [
            FieldError(None, _field((), e["loc"]), _message(e)) for e in error.errors()
        ]
        return Batch(service="", events=[], errors=envelope_errors, total=len(raw_events))
    events: list[tuple[int, Event]] = []
    errors: list[FieldError] = []
    for index, raw in enumerate(envelope.metrics):
        prefix: tuple[str | int, ...] = ("metrics", index)
        try:
            event = Event.model_validate(raw)
        except pydantic.ValidationError as error:
            errors.extend(
                FieldError(index, _field(prefix, e["loc"]), _message(e)) for e in error.errors()
            )
            continue
        if allowed_types is not None and event.type not in allowed_types:
            errors.append(
                FieldError(index, _field(prefix, ("type",)), "is not one of the allowed types")
            )
            continue
        events.append((index, event))
    return Batch(service=envelope.service, events=events, errors=errors, total=len(raw_events))


def _field(prefix: tuple[str | int, ...], loc: tuple[str | int, ...]) -> str:
    """`metrics[3].dimensions.method`: pydantic's location under `prefix`, without `[key]`."""
    return paths.field_path([*prefix, *(part for part in loc if part != "[key]")])


_MESSAGES = {
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "extra_forbidden": "is not a field of the contract",
    "missing": "is required",
}


def _message(error: pydantic_core.ErrorDetails) -> str:
    """Pydantic's message, in the contract's words where pydantic's are about Python."""
    return _MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
