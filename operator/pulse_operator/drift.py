"""Whether a live object still carries everything Pulse applied to it, and if not, where
it differs first.

The server adds defaults and status, so the live object may hold more; lists must match
element by element because Pulse renders them whole."""

from __future__ import annotations

from typing import Any


def first_difference(live: Any, desired: Any, path: str = "") -> str | None:
    """The path of the first field of `desired` that `live` does not carry, like
    `spec.template.spec.containers[0].image`, or None when it carries them all."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "(the object)"
        for key, value in desired.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in live:
                return where
            if (found := first_difference(live[key], value, where)) is not None:
                return found
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return path
        for index, (a, b) in enumerate(zip(live, desired, strict=True)):
            if (found := first_difference(a, b, f"{path}[{index}]")) is not None:
                return found
        return None
    return None if live == desired else path
