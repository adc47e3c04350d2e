"""Background loops: started with the application, cancelled with it, never dying of an error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(interval_seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Runs `job` now and then every `interval_seconds` until cancelled.

    Runs are spaced from their start times, so a slow run does not shift the schedule; runs
    that a slow one made late are skipped rather than bunched. An error is logged, and the
    next run happens as planned.
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        try:
            await job()
        except Exception:
            log.exception("background job failed", extra={"job": name})
        due += interval_seconds
        now = loop.time()
        if due < now:
            due = now + interval_seconds - (now - due) % interval_seconds
        await asyncio.sleep(due - now)


class TaskGroup:
    """Tasks that live as long as the application; `stop` cancels them and waits."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(
        self, interval_seconds: float, job: Callable[[], Awaitable[object]], name: str
    ) -> None:
        self._tasks.append(asyncio.create_task(every(interval_seconds, job, name), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
