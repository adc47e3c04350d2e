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

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
import yaml

from pulse_sidecar import config
from pulse_sidecar.config import paths

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
        if paths.is_list(kind):
            index = int(part) if part.isdigit() else -1
            if not 0 <= index < len(node):
                raise ValueError(f"{paths.field_path(loc)} has no item {part} in the file")
            loc.append(index)
            kind, node = paths.strip(typing.get_args(kind)[0]), node[index]
            continue
        if not (paths.is_model(kind) or paths.union_members(kind)):
            raise ValueError(f"{paths.field_path(loc)} is a scalar and has no field {part!r}")
        if not isinstance(node, dict):
            raise ValueError(f"{paths.field_path(loc)} in the file is not a mapping")
        kind = _resolve_union(kind, node)
        if part not in kind.model_fields:
            allowed = ", ".join(kind.model_fields)
            raise ValueError(f"no setting {part!r} in {paths.field_path(loc)}; allowed: {allowed}")
        loc.append(part)
        kind = paths.strip(kind.model_fields[part].annotation)
        if depth == len(parts) - 1 and _is_scalar(kind):
            node[part] = value
            return tuple(loc)
        if node.get(part) is None:
            node[part] = [] if paths.is_list(kind) else {}
        node = node[part]
        if paths.is_list(kind) and not isinstance(node, list):
            raise ValueError(f"{paths.field_path(loc)} in the file is not a list")
    raise ValueError(f"{paths.field_path(loc)} is a section or a list, not a scalar setting")


def _describe(issue: pydantic_core.ErrorDetails, origins: dict[Loc, str]) -> str:
    """One line for one pydantic error: the field as written in YAML, and what is allowed."""
    location = paths.locate(config.SidecarConfig, issue["loc"])
    message = issue["msg"].removeprefix("Value error, ")
    if issue["type"] == "extra_forbidden" and location.parent is not None:
        message = f"unknown setting; allowed: {', '.join(paths.yaml_names(location.parent))}"
    if not location.path:
        return message  # a rule across fields; the message names them
    origin = origins.get(location.path)
    where = paths.field_path(location.path)
    return f"{where} (from {origin}): {message}" if origin else f"{where}: {message}"


def _resolve_union(annotation: Any, node: Any) -> Any:
    """The member of a discriminated union that `node` selects, or the annotation itself."""
    members = paths.union_members(annotation)
    if not members:
        return annotation
    tag = node.get("type") if isinstance(node, dict) else None
    if tag not in members:
        raise ValueError(f"needs `type` set to one of {', '.join(members)} in the file")
    return members[tag]


def _is_scalar(annotation: Any) -> bool:
    return not (
        paths.is_model(annotation) or paths.is_list(annotation) or paths.union_members(annotation)
    )
