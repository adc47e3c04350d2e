"""Reads the configuration file, applies environment overrides, and explains what is wrong.

Environment overrides exist for what a shared ConfigMap cannot know (the pod name from the
downward API) and for quick changes without editing the file. The scheme:

    PULSE_SIDECAR__<FIELD>__<FIELD>... = value

Fields are the YAML keys in any case, joined by double underscores; list items are named by
their index and must already exist in the file. Only scalars can be set (strings, numbers,
booleans, paths, URLs), and the value is validated like the same value written in the file.
Examples: `PULSE_SIDECAR__COLLECTOR__POD=checkout-7d9f`, `PULSE_SIDECAR__SERVER__PORT=9000`,
`PULSE_SIDECAR__SINKS__0__URL=http://prometheus:9090/api/v1/write`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
import yaml

from pulse_sidecar import config

ENV_PREFIX = "PULSE_SIDECAR__"

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """The configuration cannot be used; each problem is one line naming the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"invalid configuration in {source}:\n" + "\n".join(problems))
        self.source = source
        self.problems = problems


def load(path: Path, environ: Mapping[str, str]) -> config.SidecarConfig:
    """The validated configuration from `path` with the overrides found in `environ`."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(source, [f"cannot read the file: {error.strerror}"]) from error
    except UnicodeDecodeError as error:
        raise ConfigError(source, ["the file is not UTF-8"]) from error
    except yaml.YAMLError as error:
        raise ConfigError(source, [f"not valid YAML: {error}"]) from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the file must hold a mapping of settings at the top level"])
    origins = _apply_overrides(raw, environ, source)
    try:
        return config.SidecarConfig.model_validate(raw)
    except pydantic.ValidationError as error:
        problems = [_describe(issue, origins) for issue in error.errors()]
        raise ConfigError(source, problems) from error


def _apply_overrides(
    raw: dict[str, Any], environ: Mapping[str, str], source: str
) -> dict[Loc, str]:
    """Writes each override into `raw`; returns which environment variable set which field."""
    origins: dict[Loc, str] = {}
    problems: list[str] = []
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX):
            continue
        parts = variable[len(ENV_PREFIX) :].lower().split("__")
        try:
            origins[_set_scalar(raw, parts, environ[variable])] = variable
        except ValueError as error:
            problems.append(f"{variable}: {error}")
    if problems:
        raise ConfigError(source, problems)
    return origins


def _set_scalar(raw: dict[str, Any], parts: list[str], value: str) -> Loc:
    """Sets the field that `parts` names in `raw`, checking each step against the model.

    Data and model are walked together, so a misspelt name is reported with the names allowed
    at that point, and an item of a discriminated union is resolved by its `type`.
    """
    node: Any = raw
    kind: Any = config.SidecarConfig
    loc: list[str | int] = []
    for depth, part in enumerate(parts):
        if _is_list(kind):
            index = int(part) if part.isdigit() else -1
            if not 0 <= index < len(node):
                raise ValueError(f"{field_path(loc)} has no item {part} in the file")
            loc.append(index)
            kind, node = _strip(typing.get_args(kind)[0]), node[index]
            continue
        if not (_is_model(kind) or _union_members(kind)):
            raise ValueError(f"{field_path(loc)} is a scalar and has no field {part!r}")
        if not isinstance(node, dict):
            raise ValueError(f"{field_path(loc)} in the file is not a mapping")
        kind = _resolve_union(kind, node)
        if part not in kind.model_fields:
            allowed = ", ".join(kind.model_fields)
            raise ValueError(f"no setting {part!r} in {field_path(loc)}; allowed: {allowed}")
        loc.append(part)
        kind = _strip(kind.model_fields[part].annotation)
        if depth == len(parts) - 1 and _is_scalar(kind):
            node[part] = value
            return tuple(loc)
        if node.get(part) is None:
            node[part] = [] if _is_list(kind) else {}
        node = node[part]
        if _is_list(kind) and not isinstance(node, list):
            raise ValueError(f"{field_path(loc)} in the file is not a list")
    raise ValueError(f"{field_path(loc)} is a section or a list, not a scalar setting")


def _describe(issue: pydantic_core.ErrorDetails, origins: dict[Loc, str]) -> str:
    """One line for one pydantic error: the field as written in YAML, and what is allowed."""
    kind: Any = config.SidecarConfig
    loc: list[str | int] = []
    parent: Any = None
    for part in issue["loc"]:
        members = _union_members(kind)
        if members and isinstance(part, str) and part in members:
            kind = members[part]  # pydantic names the tag of a discriminated union: not a field
            continue
        parent = kind
        loc.append(part)
        if _is_model(kind) and isinstance(part, str) and part in kind.model_fields:
            kind = _strip(kind.model_fields[part].annotation)
        elif _is_list(kind) and isinstance(part, int):
            kind = _strip(typing.get_args(kind)[0])
        else:
            kind = None
    message = issue["msg"].removeprefix("Value error, ")
    if issue["type"] == "extra_forbidden" and _is_model(parent):
        message = f"unknown setting; allowed: {', '.join(parent.model_fields)}"
    if not loc:
        return message  # a rule across fields; the message names them
    origin = origins.get(tuple(loc))
    where = f"{field_path(loc)} (from {origin})" if origin else field_path(loc)
    return f"{where}: {message}"


def field_path(loc: Sequence[str | int]) -> str:
    """`sinks[0].url` from pydantic's location of an error (or a walk through the file)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _strip(annotation: Any) -> Any:
    """The type inside `Annotated[...]` and `X | None`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if _is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _union_members(annotation: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The members of a union of models, by the value of their `type` literal."""
    if not _is_union(annotation):
        return {}
    members: dict[str, type[pydantic.BaseModel]] = {}
    for member in typing.get_args(annotation):
        if _is_model(member) and "type" in member.model_fields:
            for tag in typing.get_args(member.model_fields["type"].annotation):
                members[tag] = member
    return members


def _resolve_union(annotation: Any, node: Any) -> Any:
    """The member of a discriminated union that `node` selects, or the annotation itself."""
    members = _union_members(annotation)
    if not members:
        return annotation
    tag = node.get("type") if isinstance(node, dict) else None
    if tag not in members:
        raise ValueError(f"needs `type` set to one of {', '.join(members)} in the file")
    return members[tag]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_scalar(annotation: Any) -> bool:
    return not (_is_model(annotation) or _is_list(annotation) or _union_members(annotation))
