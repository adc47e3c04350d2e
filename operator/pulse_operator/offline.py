"""`pulse-operator render`: what reconciliation would apply, computed without a cluster."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pulse_operator import validation
from pulse_operator.api.crd import GROUP
from pulse_operator.api.objects import Object, Owner
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.slo import parse_and_render_slo
from pulse_operator.settings import OperatorSettings

PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
"""The owner's uid in offline output when the manifest has none (the server assigns it)."""


@dataclass
class RenderResult:
    """Every child rendered, and one line per problem found."""

    objects: list[Object] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def manifest_files(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly): files as given, and the YAML files under directories."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                (p, False) for p in sorted(path.rglob("*")) if p.suffix in (".yaml", ".yml")
            )
        else:
            files.append((path, True))
    return files


def _render_document(doc: dict[str, Any], settings: OperatorSettings) -> list[Object]:
    meta = doc.get("metadata") or {}
    owner = Owner(
        kind=doc["kind"],
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "default")),
        uid=str(meta.get("uid", PLACEHOLDER_UID)),
    )
    if doc["kind"] == "MetricsCollector":
        return parse_and_render_collector(owner, doc.get("spec"), settings)[1]
    if doc["kind"] == "SLO":
        return parse_and_render_slo(owner, doc.get("spec"), settings)[1]
    raise validation.SpecError([f"kind: {doc['kind']} is not a kind Pulse renders"])


def render_paths(paths: Iterable[Path], settings: OperatorSettings) -> RenderResult:
    """Renders every Pulse object in the given files; other kinds are passed over."""
    result = RenderResult()
    for file, explicit in manifest_files(paths):
        try:
            documents = list(yaml.safe_load_all(file.read_text()))
        except (OSError, yaml.YAMLError) as error:
            result.problems.append(f"{file}: cannot read: {error}")
            continue
        for number, doc in enumerate(documents, start=1):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc:
                # in a directory, other YAML (a sidecar config, values files) is not ours
                if explicit:
                    result.problems.append(f"{file}: document {number}: not a Kubernetes object")
                continue
            if not str(doc.get("apiVersion", "")).startswith(f"{GROUP}/"):
                continue
            name = f"{doc['kind']} {(doc.get('metadata') or {}).get('name', '?')}"
            try:
                result.objects.extend(_render_document(doc, settings))
            except validation.SpecError as error:
                result.problems.extend(f"{file}: {name}: {line}" for line in error.problems)
    return result
