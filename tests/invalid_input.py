"""The invalid-input suite: one case file per mistake, under tests/invalid/<plural>/.

Each file is what a user might write, with what a good answer says about it:

    mistake: two ports with one number        # what the user got wrong, in words
    field: spec.collector.ports                # the field a good message names
    says: port numbers must be unique          # optional: words both answers contain
    refusedAt: admission                       # or `operator`: admitted, then Degraded
    object: {apiVersion: ..., kind: ..., spec: ...}

`metadata.name` defaults to the file's name. The same files drive the offline tests
(`pulse-operator render`) and the integration tests (the real API server with the
operator running), so both must name the same field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from pulse_operator import cli

CASES = Path(__file__).parent / "invalid"
KINDS = ("metricscollectors", "slos")


@dataclass(frozen=True)
class InvalidInput:
    """One mistake and the answer a user should get."""

    id: str
    plural: str
    mistake: str
    field: str
    says: str | None
    refused_at: Literal["admission", "operator"]
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document["metadata"]["name"])

    def manifest(self, namespace: str | None = None) -> dict[str, Any]:
        """The object, in a namespace if given."""
        document = copy.deepcopy(self.document)
        if namespace is not None:
            document["metadata"]["namespace"] = namespace
        return document


def _load(path: Path, plural: str) -> InvalidInput:
    raw = yaml.safe_load(path.read_text())
    unknown = set(raw) - {"mistake", "field", "says", "refusedAt", "object"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    document = raw["object"]
    document.setdefault("metadata", {}).setdefault("name", path.stem)
    if raw["refusedAt"] not in ("admission", "operator"):
        raise ValueError(f"{path}: refusedAt must be admission or operator")
    if not str(raw["field"]).startswith(("spec", "metadata.")):
        raise ValueError(f"{path}: field must be a path in the object (spec.…, metadata.…)")
    return InvalidInput(
        id=f"{plural}/{path.stem}",
        plural=plural,
        mistake=str(raw["mistake"]),
        field=str(raw["field"]),
        says=raw.get("says"),
        refused_at=raw["refusedAt"],
        document=document,
    )


def invalid_inputs(plural: str | None = None) -> list[InvalidInput]:
    """Every case of one kind (by plural), or of all kinds, in file order."""
    plurals = KINDS if plural is None else (plural,)
    return [_load(path, each) for each in plurals for path in sorted((CASES / each).glob("*.yaml"))]


def render_problems(case: InvalidInput, directory: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `pulse-operator render -f` prints to stderr for the case; it must exit 1 and
    print no objects."""
    manifest = directory / f"{case.id.replace('/', '-')}.yaml"
    manifest.write_text(yaml.safe_dump(case.manifest()))
    capsys.readouterr()
    assert cli.main(["render", "-f", str(manifest)]) == 1, "render accepted it"
    captured = capsys.readouterr()
    assert captured.out == "", "render printed objects for an invalid input"
    return captured.err


def named_fields(problems: str) -> list[str]:
    """The field each problem line names: `<file>: <Kind> <name>: <field>: <message>`."""
    return [line.split(": ")[2] for line in problems.splitlines() if line.count(": ") >= 3]


def names(field: str, named: list[str]) -> bool:
    """Whether `field`, or a key or field inside it, is among the `named` fields."""
    return any(each == field or each.startswith((f"{field}.", f"{field}[")) for each in named)
