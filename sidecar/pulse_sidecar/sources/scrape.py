"""Scraping one endpoint of the pod, in Prometheus text format or OpenMetrics.

A failing target is reported (`collector_target_up` 0, an error counted, its series marked
stale by the pipeline) and scraped again on schedule: it never stops the sidecar.
Parsing runs in a worker thread so that a large scrape does not stall event ingest.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from prometheus_client import metrics_core, parser
from prometheus_client.openmetrics import parser as openmetrics_parser

from pulse_sidecar import config, pipeline, telemetry

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


class ScrapeSource:
    """One scrape target, as a pipeline source named `scrape/<target>`."""

    def __init__(
        self,
        target: config.ScrapeTarget,
        session: aiohttp.ClientSession,
        metrics: telemetry.Telemetry,
    ) -> None:
        self._target = target
        self._session = session
        self._metrics = metrics
        self._url = f"http://{target.host}:{target.port}{target.path}"
        self.up = False
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return f"scrape/{self._target.name}"

    @property
    def interval_seconds(self) -> float:
        return self._target.interval_seconds

    async def collect(self) -> list[metrics_core.Metric]:
        started = time.perf_counter()
        try:
            families = await self._scrape()
        except pipeline.CollectionError as error:
            self.up, self.last_error = False, str(error)
            raise
        finally:
            self._metrics.target_duration.labels(self._target.name).set(
                time.perf_counter() - started
            )
            self._metrics.target_up.labels(self._target.name).set(1 if self.up else 0)
        return families

    async def _scrape(self) -> list[metrics_core.Metric]:
        timeout = aiohttp.ClientTimeout(total=self._target.timeout_seconds)
        try:
            async with self._session.get(
                self._url, headers={"Accept": ACCEPT}, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise pipeline.CollectionError(
                        "http_status", f"{self._url} answered {response.status}"
                    )
                text = await response.text(errors="replace")
                openmetrics = response.content_type == "application/openmetrics-text"
        except TimeoutError:
            raise pipeline.CollectionError(
                "timeout", f"{self._url} did not answer in {self._target.timeout_seconds}s"
            ) from None
        except aiohttp.ClientError as error:
            raise pipeline.CollectionError("connection", f"{self._url}: {error}") from None
        try:
            families = await asyncio.to_thread(_parse, text, openmetrics)
        except ValueError as error:
            raise pipeline.CollectionError("parse", f"{self._url}: {error}") from None
        self.up, self.last_error = True, None
        self._metrics.target_samples.labels(self._target.name).set(
            sum(len(family.samples) for family in families)
        )
        return families


def _parse(text: str, openmetrics: bool) -> list[metrics_core.Metric]:
    if openmetrics:
        # The OpenMetrics parser has no annotations; it yields the same Metric objects.
        return list(openmetrics_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]
    return list(parser.text_string_to_metric_families(text))
