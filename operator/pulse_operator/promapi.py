"""The operator's reader of a Prometheus HTTP API: what is loaded, and Pulse's recorded series.

A Prometheus is not the operator's to trust. Every request has a deadline, an answer is
read up to a size limit and dropped above it, and the whole cluster's view is fetched in
two requests at most once per period however many objects use it (`Snapshots`): a slow,
failing or hostile Prometheus costs the operator one bounded wait per period, in kopf's
event loop, never a reconciliation thread.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

PULSE_SERIES = (
    '{__name__=~"pulse_slo:(error_budget_remaining|current_burn_rate):ratio'
    '|pulse_slo:sli_error:ratio(_rate.+)?|pulse_slo:sli_total_events:rate5m",slo!=""}'
)
"""Every series the live SLO status is computed from, for all SLOs, in one instant query."""


class PrometheusError(Exception):
    """The Prometheus could not be asked, or its answer could not be used."""


@dataclass(frozen=True)
class RuleGroup:
    """One loaded rule group, as much as the status needs."""

    file: str
    name: str
    rules: int
    unhealthy: tuple[str, ...]
    """`rule: lastError` of each rule that failed its last evaluation."""
    evaluated: bool
    """Whether the group has been evaluated at least once since it was loaded."""


@dataclass(frozen=True)
class Snapshot:
    """The Prometheus's rule groups and Pulse's SLO series at one moment, or why not."""

    groups: tuple[RuleGroup, ...] = ()
    series: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    """(namespace, slo) -> {metric name: value}."""
    source: str = ""
    """Which Prometheus, for messages: `Prometheus at <url>`."""
    error: str | None = None


@dataclass(frozen=True)
class Limits:
    """How much one Prometheus may cost the operator."""

    timeout_seconds: float = 10.0
    max_bytes: int = 16 * 2**20
    period_seconds: float = 300.0


class PrometheusAPI:
    """Two read-only endpoints of one Prometheus, within `limits`."""

    def __init__(self, url: str, limits: Limits) -> None:
        self.url = url.rstrip("/")
        self.limits = limits

    async def get(self, path: str, params: Mapping[str, str]) -> Any:
        """The `data` of a successful API answer; PrometheusError for anything else."""
        timeout = aiohttp.ClientTimeout(total=self.limits.timeout_seconds)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{self.url}{path}", params=params) as response,
            ):
                raw = await _bounded(response, self.limits.max_bytes)
                status = response.status
        except TimeoutError as error:
            raise PrometheusError(f"no answer within {self.limits.timeout_seconds:g} s") from error
        except aiohttp.ClientError as error:
            raise PrometheusError(str(error) or type(error).__name__) from error
        return _data(status, raw)

    async def snapshot(self) -> Snapshot:
        """Rule groups and Pulse's series, or the error that stopped either."""
        try:
            rules = await self.get("/api/v1/rules", {})
            query = await self.get("/api/v1/query", {"query": PULSE_SERIES})
            groups, series = rule_groups(rules), series_values(query)
        except PrometheusError as error:
            return Snapshot(source=self.source, error=f"{self.source}: {error}")
        return Snapshot(groups=groups, series=series, source=self.source)

    @property
    def source(self) -> str:
        return f"Prometheus at {self.url}"


async def _bounded(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, refused as soon as it grows past `max_bytes` (memory stays bounded)."""
    if (response.content_length or 0) > max_bytes:
        raise PrometheusError(f"answer of {response.content_length} bytes is over {max_bytes}")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise PrometheusError(f"answer is over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _data(status: int, raw: bytes) -> Any:
    """The answer's `data`, or what the Prometheus said went wrong."""
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise PrometheusError(f"HTTP {status}, not a Prometheus API answer: {raw[:200]!r}")
    if status != 200 or answer.get("status") != "success":
        raise PrometheusError(f"HTTP {status}: {answer.get('error') or answer.get('status')}")
    return answer.get("data")


def rule_groups(data: Any) -> tuple[RuleGroup, ...]:
    """The groups of a /api/v1/rules answer, reduced to what the status needs."""
    try:
        return tuple(
            RuleGroup(
                file=str(group["file"]),
                name=str(group["name"]),
                rules=len(group["rules"]),
                unhealthy=tuple(
                    f"{rule.get('name')}: {rule.get('lastError') or rule.get('health')}"
                    for rule in group["rules"]
                    if rule.get("health") == "err"
                ),
                evaluated=not str(group.get("lastEvaluation", "")).startswith("0001-"),
            )
            for group in data["groups"]
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise PrometheusError(f"a rules answer without groups of rules: {error!r}") from error


def series_values(data: Any) -> dict[tuple[str, str], dict[str, float]]:
    """An instant vector of Pulse's series as {(namespace, slo): {name: value}}."""
    values: dict[tuple[str, str], dict[str, float]] = {}
    try:
        if data["resultType"] != "vector":
            raise PrometheusError(f"a {data['resultType']} where a vector was asked for")
        for sample in data["result"]:
            labels = sample["metric"]
            key = (str(labels.get("namespace", "")), str(labels["slo"]))
            values.setdefault(key, {})[str(labels["__name__"])] = float(sample["value"][1])
    except (KeyError, TypeError, IndexError, ValueError) as error:
        raise PrometheusError(
            f"a query answer that is not a vector of samples: {error!r}"
        ) from error
    return values


class Snapshots:
    """One snapshot per period for everyone who asks, fetched by the first to ask after
    it expired while the others wait for it: the requests a Prometheus sees do not grow
    with the number of objects, and a failure is not retried before the period ends."""

    def __init__(self, api: PrometheusAPI, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self._clock = clock
        self._lock = asyncio.Lock()
        self._taken = -math.inf
        self._last = Snapshot()

    async def current(self) -> Snapshot:
        """The snapshot of this period."""
        async with self._lock:
            if self._clock() - self._taken >= self.api.limits.period_seconds:
                self._last = await self.api.snapshot()
                self._taken = self._clock()
            return self._last
