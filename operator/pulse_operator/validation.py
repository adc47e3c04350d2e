"""Turning a resource's raw spec into a typed model, with errors that name the field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic

_RELATIVE_PATH = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*(\.[a-zA-Z][a-zA-Z0-9]*)*$")
ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


class SpecError(ValueError):
    """A spec the models reject; `problems` holds one `spec.path: message` line each."""

    reason = "InvalidSpec"
    """The condition reason a resource with this error reports."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """('sinks', 0, 'remoteWrite', 'url') -> 'spec.sinks[0].remoteWrite.url'."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def describe(error: pydantic.ValidationError, prefix: str = "spec") -> list[str]:
    """One line per problem: where it is and what is allowed there.

    A model validator that checks several fields names the one to blame by starting its
    message with that field's relative path and a colon ("collector.ports: ...").
    """
    lines = []
    for item in error.errors(include_url=False):
        # pydantic prefixes messages of validators with "Value error, "; people need not see it
        message = str(item["msg"]).removeprefix("Value error, ")
        # discriminated unions and model validators put the model name in the path
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        path = field_path(prefix, loc)
        blamed, _, rest = message.partition(": ")
        if rest and _RELATIVE_PATH.match(blamed):
            path, message = f"{path}.{blamed}", rest
        lines.append(f"{path}: {message}")
    return lines


def parse_spec(model: type[ModelT], raw: Any, prefix: str = "spec") -> ModelT:
    """Validates `raw` with `model` (defaults applied) or raises SpecError."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except pydantic.ValidationError as error:
        raise SpecError(describe(error, prefix)) from error
