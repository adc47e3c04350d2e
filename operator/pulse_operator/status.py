"""Conditions the Kubernetes way: computed purely, so unchanged status means no write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pulse_operator.api.common import ConditionType

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class ConditionUpdate:
    """The new truth of one condition."""

    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str = ""


def merge_conditions(
    current: list[dict[str, Any]],
    updates: list[ConditionUpdate],
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The conditions after `updates`; lastTransitionTime only moves when status changes."""
    previous = {c.get("type"): c for c in current}
    merged = []
    for update in updates:
        before = previous.get(update.type)
        if before is None or before.get("status") != update.status:
            transition = now
        else:
            transition = before.get("lastTransitionTime", now)
        merged.append(
            {
                "type": update.type,
                "status": update.status,
                "reason": update.reason,
                "message": update.message,
                "lastTransitionTime": transition,
                "observedGeneration": generation,
            }
        )
    return merged


def status_changed(current: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """Whether writing `desired` would change anything the operator owns."""
    current = current or {}
    return any(current.get(key) != value for key, value in desired.items())
