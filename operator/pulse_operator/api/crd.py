"""Facts about Pulse's CustomResourceDefinitions that are not in the spec models.

Group, version and category, and what a CRD says beside its schema: names and printer
columns. `api/registry.py` fills these in for each kind; `crdgen` turns them into YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
class CrdSpec:
    """Everything about one CRD that is not in its models."""

    kind: str
    plural: str
    short_name: str
    description: str
    spec_model: type[pydantic.BaseModel]
    status_model: type[pydantic.BaseModel]
    columns: list[PrinterColumn] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"
