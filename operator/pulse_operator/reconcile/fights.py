"""Telling a hand edit from a write fight.

Pulse restores a child that drifted from what it applied. When another writer keeps
setting the same object back (a controller, a GitOps tool, a script in a loop), restoring
it at once every time makes the two write without end. A child restored `limit` times
within `window_seconds` is left alone for a while instead (doubling each time it
happens again, up to `max_pause_seconds`), and the owner says who is fighting over what.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pulse_operator.api.objects import Object, ref


@dataclass(frozen=True)
class Fight:
    """Another writer that keeps changing a child back."""

    child: str
    """Kind/name of the child."""
    field: str
    """The first field it changes, e.g. spec.template.spec.containers[0].image."""
    manager: str
    """The other field manager (kubectl-edit, a controller's name, ...)."""
    pause_seconds: float
    """How long Pulse leaves the child alone."""
    until: float
    """When Pulse restores the child again (on the corrections' clock)."""

    @property
    def message(self) -> str:
        """For the Degraded condition and the Warning event: stable while the fight lasts."""
        return (
            f"{self.child}: {self.field} is changed back by {self.manager!r} again and again; "
            f"Pulse stopped restoring it for {self.pause_seconds:.0f} s. Change the "
            "resource's spec instead (for replicas set by an autoscaler: "
            "spec.autoscaling.external: true), or stop the other writer"
        )


@dataclass
class Corrections:
    """Recent restorations per child (by namespace and Kind/name); only children that
    were restored cost memory. Shared by every handler of one operator."""

    limit: int = 3
    window_seconds: float = 60.0
    pause_seconds: float = 120.0
    max_pause_seconds: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _times: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _fights: dict[tuple[str, str], Fight] = field(default_factory=dict)
    _pauses: dict[tuple[str, str], float] = field(default_factory=dict)

    def ongoing(self, namespace: str, children: Iterable[str]) -> list[Fight]:
        """The fights over these children (Kind/name) while Pulse leaves them alone."""
        now = self.clock()
        found = []
        for child in children:
            key = (namespace, child)
            fight = self._fights.get(key)
            if fight is not None and fight.until <= now:
                del self._fights[key]
            elif fight is not None:
                found.append(fight)
        return found

    def restored(self, live: Object, changed_field: str, own_manager: str) -> Fight | None:
        """Records a restoration of `live`; the Fight when this one makes it a fight."""
        key = (live["metadata"].get("namespace", ""), ref(live))
        now = self.clock()
        times = self._times.setdefault(key, deque(maxlen=self.limit))
        times.append(now)
        if len(times) < self.limit or now - times[0] > self.window_seconds:
            return None
        pause = min(self._pauses.get(key, self.pause_seconds / 2) * 2, self.max_pause_seconds)
        self._pauses[key] = pause
        times.clear()
        manager = other_manager(live, own_manager)
        fight = Fight(ref(live), changed_field, manager, pause, now + pause)
        self._fights[key] = fight
        return fight

    def forget(self, namespace: str, child: str) -> None:
        """The child is gone: a new one starts with a clean record."""
        for table in (self._times, self._fights, self._pauses):
            table.pop((namespace, child), None)


def other_manager(live: Object, own_manager: str) -> str:
    """The field manager other than Pulse that wrote the object last."""
    entries: list[dict[str, Any]] = [
        e for e in live["metadata"].get("managedFields", []) if e.get("manager") != own_manager
    ]
    if not entries:
        return "another writer"
    latest = max(entries, key=lambda e: str(e.get("time", "")))
    return str(latest.get("manager", "another writer"))
