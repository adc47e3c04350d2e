"""Background loops: `stop` cancels a run under way, `finish` lets it end first."""

from __future__ import annotations

import asyncio

from pulse_sidecar import tasks


class SlowJob:
    """A job that takes `seconds`; counts the runs begun and the runs ended."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.begun = 0
        self.ended = 0
        self.running = asyncio.Event()

    async def __call__(self) -> None:
        self.begun += 1
        self.running.set()
        await asyncio.sleep(self.seconds)
        self.ended += 1


async def test_finish_lets_the_run_under_way_end_and_starts_no_other() -> None:
    job = SlowJob(0.2)
    group = tasks.TaskGroup()
    group.start(0.01, job, "slow")
    await job.running.wait()
    await group.finish(timeout_seconds=5)
    assert (job.begun, job.ended) == (1, 1)


async def test_finish_cancels_a_run_that_outlasts_the_timeout() -> None:
    job = SlowJob(3600)
    group = tasks.TaskGroup()
    group.start(1, job, "stuck")
    await job.running.wait()
    await asyncio.wait_for(group.finish(timeout_seconds=0.1), timeout=5)
    assert (job.begun, job.ended) == (1, 0)


async def test_a_waiting_loop_finishes_at_once_rather_than_after_its_interval() -> None:
    job = SlowJob(0)
    group = tasks.TaskGroup()
    group.start(3600, job, "hourly")
    await job.running.wait()
    await asyncio.wait_for(group.finish(timeout_seconds=60), timeout=1)
    assert (job.begun, job.ended) == (1, 1)


async def test_stop_cancels_the_run_under_way() -> None:
    job = SlowJob(3600)
    group = tasks.TaskGroup()
    group.start(1, job, "slow")
    await job.running.wait()
    await asyncio.wait_for(group.stop(), timeout=5)
    assert (job.begun, job.ended) == (1, 0)
