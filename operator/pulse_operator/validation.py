"""Turning a resource's raw spec into a typed model, with errors that name the field.

Both kinds' errors are located the same way: pydantic's location of an error is walked
through the model, so it reads as the path in the user's YAML (`spec.ruleLabels[Team]`,
`spec.sinks[0].remoteWrite.url`), whatever names pydantic inserts on the way.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
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


def _strip(annotation: Any) -> Any:
    """The type inside `Annotated[...]` and `X | None`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _field(model: type[pydantic.BaseModel], part: str) -> tuple[str, Any] | None:
    """(the name as written in YAML, the field's type) for a field named by alias or name."""
    for name, info in model.model_fields.items():
        if part in (name, info.alias):
            return info.alias or name, info.annotation
    return None


def field_path(
    model: type[pydantic.BaseModel], loc: Sequence[int | str], prefix: str
) -> tuple[str, type[pydantic.BaseModel] | None]:
    """('sinks', 0, 'remoteWrite', 'url') -> 'spec.sinks[0].remoteWrite.url', and map keys
    in brackets: ('ruleLabels', 'Team') -> 'spec.ruleLabels[Team]'; the member names
    pydantic inserts for a union are left out. Also the model the last part belongs to."""
    path, kind, parent = prefix, _strip(model), None
    for part in loc:
        origin = typing.get_origin(kind)
        if origin in (list, tuple) and isinstance(part, int):
            path, kind = f"{path}[{part}]", _strip(typing.get_args(kind)[0])
        elif origin is dict:
            path, kind = f"{path}[{part}]", _strip(typing.get_args(kind)[1])
        elif _is_model(kind):
            parent = kind
            found = _field(kind, str(part))
            path = f"{path}.{found[0] if found else part}"  # not a field: the user's typo
            kind = _strip(found[1]) if found else None
        elif origin in (typing.Union, types.UnionType):
            members = {m.__name__: m for m in typing.get_args(kind) if _is_model(m)}
            kind = members.get(str(part), kind)  # pydantic names the member it tried
    return path, parent


def describe(
    model: type[pydantic.BaseModel], error: pydantic.ValidationError, prefix: str = "spec"
) -> list[str]:
    """One line per problem: where it is and what is allowed there.

    A model validator that checks several fields names the one to blame by starting its
    message with that field's relative path and a colon ("collector.ports: ...").
    """
    lines = []
    for item in error.errors(include_url=False):
        # pydantic prefixes messages of validators with "Value error, "; people need not see it
        message = str(item["msg"]).removeprefix("Value error, ")
        path, parent = field_path(model, item["loc"], prefix)
        if item["type"] == "extra_forbidden" and parent is not None:
            allowed = ", ".join(info.alias or name for name, info in parent.model_fields.items())
            message = f"unknown field; allowed: {allowed}"
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
        raise SpecError(describe(model, error, prefix)) from error
