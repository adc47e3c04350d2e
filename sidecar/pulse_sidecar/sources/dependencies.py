"""Checks of the services the application depends on, for /status and the health score.

They are not collected into the sinks: they describe what the sidecar can see from this
pod, which is what an operator looking at /status at 3 a.m. wants to know first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp

from pulse_sidecar import config, telemetry


@dataclasses.dataclass(frozen=True)
class CheckResult:
    up: bool
    latency_seconds: float
    checked_at: float
    """Wall-clock time of the check."""
    error: str | None = None


class DependencyCheck:
    """One HTTP or TCP check; `run` performs it and keeps the result in `last`."""

    def __init__(
        self,
        settings: config.HttpCheck | config.TcpCheck,
        session: aiohttp.ClientSession,
        metrics: telemetry.Telemetry,
    ) -> None:
        self.settings = settings
        self._session = session
        self._metrics = metrics
        self.last: CheckResult | None = None

    async def run(self) -> None:
        started = time.perf_counter()
        error = None
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                error = await self._probe()
        except TimeoutError:
            error = f"no answer within {self.settings.timeout_seconds}s"
        except (OSError, aiohttp.ClientError) as failure:
            error = str(failure) or type(failure).__name__
        latency = time.perf_counter() - started
        self.last = CheckResult(error is None, latency, time.time(), error)
        self._metrics.dependency_up.labels(self.settings.name).set(1 if error is None else 0)
        self._metrics.dependency_latency.labels(self.settings.name).set(latency)

    async def _probe(self) -> str | None:
        """None when the dependency is up, else what is wrong."""
        if isinstance(self.settings, config.HttpCheck):
            async with self._session.get(str(self.settings.target)) as response:
                return None if response.status < 500 else f"answered {response.status}"
        host, _, port = self.settings.target.rpartition(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        await writer.wait_closed()
        return None
