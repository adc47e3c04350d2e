"""Where in a YAML document a pydantic error is, found by walking the model.

One walk for every model users write: the sidecar's configuration file here, and in the
operator the MetricsCollector and SLO specs (the operator may import this package only).
pydantic's location of an error holds field names or aliases, list indexes, map keys, and
names of its own (the member of a union it tried); walking the model tells them apart, so
the path reads as the user wrote it: `sinks[0].url`, `spec.selectorLabels[Team]`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic


class MapKey(str):
    """A key of a mapping in a path, written `[key]`."""

    __slots__ = ()


Part = str | int
"""A field name as written in YAML, a list index, or a MapKey."""


def strip(annotation: Any) -> Any:
    """The type inside `Annotated[...]` and `X | None`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return strip(members[0])
    return annotation


def is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, tuple)


def union_members(annotation: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The members of a discriminated union of models, by the value of their `type`
    literal (how pydantic names the member it tried)."""
    if not is_union(annotation):
        return {}
    members: dict[str, type[pydantic.BaseModel]] = {}
    for member in typing.get_args(annotation):
        if is_model(member) and "type" in member.model_fields:
            for tag in typing.get_args(member.model_fields["type"].annotation):
                members[str(tag)] = member
    return members


def _tried_members(annotation: Any) -> dict[str, type[pydantic.BaseModel]]:
    """How pydantic may name the member of a union it tried: a tag or a class name."""
    by_name = {m.__name__: m for m in typing.get_args(annotation) if is_model(m)}
    return {**by_name, **union_members(annotation)} if is_union(annotation) else {}


def model_field(model: type[pydantic.BaseModel], part: str) -> tuple[str, Any] | None:
    """(the name as written in YAML, the field's type) for a field named by alias or name."""
    for name, info in model.model_fields.items():
        if part in (name, info.alias):
            return info.alias or name, strip(info.annotation)
    return None


def yaml_names(model: type[pydantic.BaseModel]) -> list[str]:
    """The fields of a model as they are written in YAML."""
    return [info.alias or name for name, info in model.model_fields.items()]


@dataclass(frozen=True)
class Location:
    """An error's place: the path as written, and the model that holds its last field."""

    path: tuple[Part, ...]
    parent: type[pydantic.BaseModel] | None


def locate(model: type[pydantic.BaseModel], loc: Sequence[int | str]) -> Location:
    """pydantic's `loc` of an error in `model` as the path the user wrote; a part that is
    no field of its model (a misspelt key) is kept as written."""
    path: list[Part] = []
    kind: Any = model
    parent: type[pydantic.BaseModel] | None = None
    for part in loc:
        members = _tried_members(kind)
        if str(part) in members:
            kind = members[str(part)]  # pydantic names the member it tried: not a field
            continue
        if is_list(kind) and isinstance(part, int):
            path.append(part)
            kind = strip(typing.get_args(kind)[0])
        elif typing.get_origin(kind) is dict:
            path.append(MapKey(part))
            kind = strip(typing.get_args(kind)[1])
        elif is_model(kind):
            parent = kind
            found = model_field(kind, str(part))
            path.append(found[0] if found else str(part))
            kind = found[1] if found else None
        # else: a part below a scalar (e.g. pydantic's "[key]" for a map key's own error)
    return Location(tuple(path), parent)


def field_path(path: Sequence[Part], prefix: str = "") -> str:
    """`spec.sinks[0].url` from a path (and a prefix), `(top level)` for an empty one."""
    text = prefix
    for part in path:
        if isinstance(part, int | MapKey):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"
