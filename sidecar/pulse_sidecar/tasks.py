"""Background loops: started with the application, stopped with it, never dying of an error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(
    interval_seconds: float,
    job: Callable[[], Awaitable[object]],
    name: str,
    finishing: asyncio.Event,
) -> None:
    """Runs `job` now and then every `interval_seconds` until cancelled, or until
    `finishing` is set: then it returns after the run under way, which is not cut short.

    Runs are spaced from their start times, so a slow run does not shift the schedule; runs
    that a slow one made late are skipped rather than bunched. An error is logged, and the
    next run happens as planned.
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not finishing.is_set():
        try:
            await job()
        except Exception:
            log.exception("background job failed", extra={"job": name})
        due += interval_seconds
        now = loop.time()
        if due < now:
            due = now + interval_seconds - (now - due) % interval_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finishing.wait(), due - now)


class TaskGroup:
    """Tasks that live as long as the application: `stop` cancels them, `finish` lets each
    end its run under way first."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._finishing = asyncio.Event()

    def start(
        self, interval_seconds: float, job: Callable[[], Awaitable[object]], name: str
    ) -> None:
        loop = every(interval_seconds, job, name, self._finishing)
        self._tasks.append(asyncio.create_task(loop, name=name))

    async def finish(self, timeout_seconds: float) -> None:
        """Lets each task end after its run under way; cancels what still runs after
        `timeout_seconds`."""
        self._finishing.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout_seconds)
        await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
