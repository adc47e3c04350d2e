"""A validation rule written once and enforced twice: at admission and in the models.

`Rule` goes into a field's `Annotated[...]`: its CEL expression lands in the CRD
(`x-kubernetes-validations` of that field, so the API server names the field) and its
Python check runs when the models parse a spec (the operator and `render`), with the same
message. The two are kept honest by the invalid-input suite, which runs every case
through both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


@dataclass(frozen=True)
class Rule:
    """`cel` must hold for `self`, the field's value; `holds` is the same test in Python."""

    cel: str
    message: str
    holds: Callable[[Any], bool]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: Any) -> Any:
            if not self.holds(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        rules = json_schema.setdefault("x-kubernetes-validations", [])
        rules.append({"rule": self.cel, "message": self.message})
        return json_schema
