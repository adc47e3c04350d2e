"""CustomResourceDefinitions generated from the pydantic models: one source of truth.

The API models in `pulse_operator.api` carry every description, default, bound and CEL
rule. This module turns their JSON Schema into the *structural* OpenAPI v3 schema the
API server requires (no `$ref`, no `anyOf` for optionals, boolean `exclusiveMinimum`),
so `kubectl explain`, admission and offline validation all say the same thing.
`python -m pulse_operator.crdgen` rewrites `crds/`; a test fails when they are stale.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pydantic

from pulse_operator import yamlout
from pulse_operator.api.crd import API_VERSION, CATEGORY, GROUP, VERSION, CrdSpec
from pulse_operator.api.registry import ALL_CRDS

Schema = dict[str, Any]

# JSON Schema keywords that structural OpenAPI v3 in Kubernetes accepts as they are.
_KEPT = {
    "type", "description", "default", "enum", "format", "pattern", "minimum", "maximum",
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
    "uniqueItems", "required", "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-int-or-string", "nullable",
}  # fmt: skip


class SchemaError(ValueError):
    """A model cannot be expressed as a structural schema (or lacks a description)."""


def _resolve(node: Schema, defs: Schema) -> Schema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, defs)


def _collapse(node: Schema, defs: Schema) -> Schema:
    """Inlines references and drops the `null` branch pydantic emits for optional fields."""
    node = _resolve(node, defs)
    for combinator in ("anyOf", "allOf"):
        branches = node.get(combinator)
        if branches is None:
            continue
        concrete = [b for b in branches if b != {"type": "null"}]
        if sorted(b.get("type", "") for b in concrete) == ["integer", "string"]:
            # `int | str` (a port number or name): Kubernetes' IntOrString
            rest = {k: v for k, v in node.items() if k != combinator}
            return {**rest, "x-kubernetes-int-or-string": True}
        if len(concrete) != 1:
            raise SchemaError(f"{combinator} with {len(concrete)} branches is not structural")
        rest = {k: v for k, v in node.items() if k != combinator}
        node = {**_collapse(concrete[0], defs), **rest}
    return node


def structural(node: Schema, defs: Schema, path: str = "spec") -> Schema:
    """Converts one JSON Schema node (and its children) to structural OpenAPI v3."""
    node = _collapse(node, defs)
    out: Schema = {}
    for key, value in node.items():
        if key in _KEPT:
            out[key] = value
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {
            name: structural(child, defs, f"{path}.{name}")
            for name, child in node["properties"].items()
        }
        for name, child in out["properties"].items():
            if "description" not in child:
                raise SchemaError(f"{path}.{name} has no description")
    additional = node.get("additionalProperties")
    if additional is True:  # dict[str, Any]: an embedded object Pulse passes through as is
        out["type"] = "object"
        out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(additional, dict):
        out["additionalProperties"] = structural(additional, defs, f"{path}[*]")
    if "items" in node:
        out["items"] = structural(node["items"], defs, f"{path}[]")
    if out.get("default") is None:
        out.pop("default", None)
    return out


def model_schema(model: type[pydantic.BaseModel]) -> Schema:
    """The structural schema of one pydantic model, with camelCase names."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def render_crd(crd: CrdSpec) -> Schema:
    """The complete CustomResourceDefinition object."""
    spec_schema = model_schema(crd.spec_model)
    status_schema = model_schema(crd.status_model)
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in crd.columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd.name,
            "labels": {"app.kubernetes.io/name": "pulse", "app.kubernetes.io/part-of": "pulse"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": crd.kind,
                "listKind": f"{crd.kind}List",
                "plural": crd.plural,
                "singular": crd.kind.lower(),
                "shortNames": [crd.short_name],
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": crd.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": f"APIVersion of this object: {API_VERSION}.",
                                },
                                "kind": {
                                    "type": "string",
                                    "description": f"Kind of this object: {crd.kind}.",
                                },
                                "metadata": {
                                    "type": "object",
                                    "properties": {"name": crd.name_rule.schema()},
                                },
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def crd_file_name(crd: CrdSpec) -> str:
    return f"{GROUP}_{crd.plural}.yaml"


def dump(document: Schema) -> str:
    header = (
        "# Generated by `python -m pulse_operator.crdgen` from pulse_operator.api; do not edit.\n"
    )
    return header + yamlout.dump(document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the CRDs generated from the models.")
    parser.add_argument("--out", type=Path, default=Path("crds"), help="directory to write")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for crd in ALL_CRDS:
        (args.out / crd_file_name(crd)).write_text(dump(render_crd(crd)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
