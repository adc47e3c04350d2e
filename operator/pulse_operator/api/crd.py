"""Facts about Pulse's CustomResourceDefinitions that are not in the spec models.

Group, version and category, and what a CRD says beside its schema: names and printer
columns. `api/registry.py` fills these in for each kind; `crdgen` turns them into YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pydantic

GROUP = "pulse.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "pulse"


@dataclass(frozen=True)
class PrinterColumn:
    """One column of `kubectl get`."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class NameRule:
    """What `metadata.name` may be, so that every child's name and labels are valid too."""

    pattern: str
    max_length: int
    message: str

    def schema(self) -> dict[str, Any]:
        """The CRD's schema of metadata.name (the only metadata a CRD may constrain)."""
        return {
            "type": "string",
            "maxLength": self.max_length,
            "x-kubernetes-validations": [
                {"rule": f"self.matches('{self.pattern}')", "message": self.message}
            ],
        }

    def problems(self, name: str) -> list[str]:
        """The same check offline, worded as the API server words it."""
        if len(name) > self.max_length:
            return [f"metadata.name: Too long: may not be more than {self.max_length} bytes"]
        if not re.fullmatch(self.pattern, name):
            return [f"metadata.name: {self.message}"]
        return []


@dataclass(frozen=True)
class CrdSpec:
    """Everything about one CRD that is not in its models."""

    kind: str
    plural: str
    short_name: str
    description: str
    spec_model: type[pydantic.BaseModel]
    status_model: type[pydantic.BaseModel]
    name_rule: NameRule
    columns: list[PrinterColumn] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"
