"""Types shared by Pulse's API models: durations, quantities, Secret references, status.

The conventions here are what `pulse_operator.crdgen` relies on: camelCase aliases,
no unknown fields, a description on every field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pulse_operator.api.rules import Rule

DURATION_PATTERN = r"^[0-9]+(ms|s|m|h)$"
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
IMAGE_PATTERN = (
    r"^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*"
    r"(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*"
    r"(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@[a-z0-9]+([-_+.][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,})?$"
)
"""An image reference as container runtimes parse it: [registry[:port]/]path[:tag][@digest]."""
MAX_DURATION_SECONDS = 86_400

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"^([0-9]+)(ms|s|m|h)$")


def duration_seconds(value: str) -> float:
    """'30s' -> 30.0; the pattern in the schema guarantees the form."""
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m or 1h")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


_QUANTITY_SUFFIXES = {
    "m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6),
    "G": Decimal(10**9), "T": Decimal(10**12), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
    "Gi": Decimal(2**30), "Ti": Decimal(2**40),
}  # fmt: skip
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)


def quantity(value: str) -> Decimal:
    """'250m' -> 0.25, '1Gi' -> 1073741824: enough of Kubernetes' quantities to compare them."""
    match = _QUANTITY_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a quantity like 250m, 1, 512Mi or 1Gi")
    number = value[: len(value) - len(match.group(2) or "")]
    return Decimal(number) * _QUANTITY_SUFFIXES[match.group(2) or ""]


_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T",
                     15: "P", 18: "E"}  # fmt: skip


def canonical_quantity(value: str) -> str:
    """The form the API server stores a quantity in ('0.5' -> '500m', '1024Mi' -> '1Gi',
    '0.5Gi' -> '512Mi'), as Kubernetes' resource.Quantity does: binary suffixes stay
    binary when the amount is a whole number of at least 1024, else the largest
    decimal suffix that keeps the number whole. Comparing rendered children with the
    stored ones in this form is what keeps non-canonical input from looking like drift."""
    amount = quantity(value)
    binary = value.endswith("i")
    if binary and abs(amount) >= 1024 and amount == amount.to_integral_value():
        whole, power = int(amount), 0
        while power < len(_BINARY_SUFFIXES) - 1 and whole % 1024 == 0:
            whole, power = whole // 1024, power + 1
        return f"{whole}{_BINARY_SUFFIXES[power]}"
    if amount == 0:
        return "0"
    for exponent in sorted(_DECIMAL_SUFFIXES, reverse=True):
        scaled = amount / Decimal(10) ** exponent
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{_DECIMAL_SUFFIXES[exponent]}"
    nano = (amount * Decimal(10) ** 9).to_integral_value(rounding="ROUND_CEILING")
    return f"{int(nano)}n"  # below a nano-unit the API server rounds up


def _positive_and_at_most_a_day(value: str) -> bool:
    return 0 < duration_seconds(value) <= MAX_DURATION_SECONDS


Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, examples=["30s"], max_length=16),
    Rule(
        cel="duration(self) > duration('0s') && duration(self) <= duration('24h')",
        message="must be more than 0s and at most 24h",
        holds=_positive_and_at_most_a_day,
    ),
]
Image = Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE_PATTERN)]
Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32)]


class ApiModel(BaseModel):
    """Base of every API model: camelCase in YAML, unknown fields rejected, immutable, and
    strict about types as the API server is ("99.9" is not a number, "true" not a boolean)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True, strict=True
    )


def cel(*rules: tuple[str, str] | tuple[str, str, str]) -> ConfigDict:
    """A model's CEL rules, carried into the CRD (`x-kubernetes-validations`) so admission
    refuses what the model refuses: (rule, message) or (rule, message, fieldPath of the
    field to blame). The rest of the configuration comes from ApiModel."""
    validations: list[dict[str, str]] = []
    for rule in rules:
        validation = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            validation["fieldPath"] = rule[2]
        validations.append(validation)
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": validations})  # type: ignore[dict-item]


class SecretKeyRef(ApiModel):
    """A key of a Secret in the resource's own namespace."""

    name: str = Field(
        description="Name of the Secret, in the same namespace as this resource.",
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
    )
    key: str = Field(
        description="Key within the Secret whose value is used.",
        pattern=r"^[-._a-zA-Z0-9]+$",
        max_length=253,
    )


ConditionType = Literal["Ready", "Progressing", "Degraded", "Selected", "Loaded", "DataPresent"]
ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(ApiModel):
    """The Kubernetes condition convention (metav1.Condition)."""

    type: ConditionType = Field(
        description="Ready, Progressing, Degraded, Selected, Loaded or DataPresent."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="A CamelCase word for programs: why the status is what it is.")
    message: str = Field(default="", description="What happened, for people.")
    last_transition_time: str = Field(
        description="When the status last changed (RFC 3339).",
        json_schema_extra={"format": "date-time"},
    )
    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation this condition was computed from."
    )


class ResourceStatus(ApiModel):
    """What every Pulse resource reports."""

    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation the operator last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Progressing and Degraded; Selected, Loaded and DataPresent where "
        "they apply (docs/status.md). With reasons and messages.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    children: list[str] = Field(
        default_factory=list,
        description="The objects the operator manages for this resource, as Kind/name.",
    )
