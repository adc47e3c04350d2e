"""Turning a resource's raw spec into a typed model, with errors that name the field.

Both kinds' errors, and the sidecar's, are located the same way
(`pulse_sidecar.config.paths`): pydantic's location of an error is walked through the
model, so it reads as the path in the user's YAML (`spec.selectorLabels[Team]`,
`spec.sinks[0].remoteWrite.url`), whatever names pydantic inserts on the way.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic

from pulse_operator.api.crd import NameRule
from pulse_sidecar.config import paths

_RELATIVE_PATH = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*(\.[a-zA-Z][a-zA-Z0-9]*)*$")
_MAP_KEY = re.compile(r"^\[[^\]]+\]$")
ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


class SpecError(ValueError):
    """A spec the models reject; `problems` holds one `spec.path: message` line each."""

    reason = "InvalidSpec"
    """The condition reason a resource with this error reports."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe(
    model: type[pydantic.BaseModel], error: pydantic.ValidationError, prefix: str = "spec"
) -> list[str]:
    """One line per problem: where it is and what is allowed there.

    A model validator that checks several fields names the one to blame by starting its
    message with that field's relative path and a colon ("collector.ports: ..."); one
    that checks a map's values names the key ("[team]: ...").
    """
    lines = []
    for item in error.errors(include_url=False):
        # pydantic prefixes messages of validators with "Value error, "; people need not see it
        message = str(item["msg"]).removeprefix("Value error, ")
        location = paths.locate(model, item["loc"])
        path = paths.field_path(location.path, prefix)
        if item["type"] == "extra_forbidden" and location.parent is not None:
            message = f"unknown field; allowed: {', '.join(paths.yaml_names(location.parent))}"
        blamed, _, rest = message.partition(": ")
        if rest and _RELATIVE_PATH.match(blamed):
            path, message = f"{path}.{blamed}", rest
        elif rest and _MAP_KEY.match(blamed):
            path, message = f"{path}{blamed}", rest
        lines.append(f"{path}: {message}")
    return lines


def without_nulls(raw: Any) -> Any:
    """`raw` with every null map value removed, as the API server prunes them before
    applying defaults (`alerting: null` is `alerting` left out)."""
    if isinstance(raw, dict):
        return {key: without_nulls(value) for key, value in raw.items() if value is not None}
    if isinstance(raw, list):
        return [without_nulls(item) for item in raw]
    return raw


def parse_spec(model: type[ModelT], raw: Any, prefix: str = "spec") -> ModelT:
    """Validates `raw` with `model` (defaults applied) or raises SpecError."""
    try:
        return model.model_validate(without_nulls(raw) if raw is not None else {})
    except pydantic.ValidationError as error:
        raise SpecError(describe(model, error, prefix)) from error


def parse_object(model: type[ModelT], name_rule: NameRule, name: str, raw_spec: Any) -> ModelT:
    """Like parse_spec, and checks metadata.name too: every problem is reported at once."""
    problems = name_rule.problems(name)
    if raw_spec is None:
        raise SpecError([*problems, "spec: Required value"])
    try:
        spec = parse_spec(model, raw_spec)
    except SpecError as error:
        raise SpecError(problems + error.problems) from error
    if problems:
        raise SpecError(problems)
    return spec
