"""Scraping one endpoint of the pod, in Prometheus text format or OpenMetrics.

Its series are labelled as Prometheus labels a target's (`job` and `instance`, with
`honor_labels` semantics, then metric relabeling), and every scrape reports itself upstream
with the series Prometheus writes for each scrape (`up`, `scrape_duration_seconds`, ...), so
that the dashboards and rules of the ecosystem work on relayed data as they do on scraped.
A failing target is reported (`up` and `collector_target_up` 0, an error counted, its series
marked stale by the pipeline) and scraped again on schedule: it never stops the sidecar.
Parsing runs in a worker thread so that a large scrape does not stall event ingest.
What one scrape may cost is bounded, so that one target cannot take the memory the others
need: its body is read in chunks and given up past `body_size_limit_bytes` (a never-ending
body included), and its parse is given up past `sample_limit` samples.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp

from pulse_sidecar import config, samples, sources, telemetry
from pulse_sidecar.sources import exposition, relabel

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


class ScrapeSource:
    """One scrape target, as a pipeline source named `scrape/<target>`."""

    def __init__(
        self,
        target: config.ScrapeTarget,
        session: aiohttp.ClientSession,
        metrics: telemetry.Telemetry,
        identity: Mapping[str, str],
    ) -> None:
        self._target = target
        self._session = session
        self._metrics = metrics
        instance = f"{target.host}:{target.port}"
        job = target.job or identity.get("collector") or target.name
        target_labels = {**identity, "job": job, "instance": instance}
        self._report_labels = samples.labelled((), target_labels)
        self._parser = exposition.SeriesParser(
            target_labels, target.honor_labels, relabel.compile_rules(target.metric_relabel_configs)
        )
        self._url = f"http://{instance}{target.path}"
        self.up = False
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return f"scrape/{self._target.name}"

    @property
    def interval_seconds(self) -> float:
        return self._target.interval_seconds

    async def collect(self, timestamp_ms: int) -> list[samples.Sample]:
        started = time.perf_counter()
        try:
            scraped = await self._scrape(timestamp_ms)
        except sources.CollectionError as error:
            self.up, self.last_error = False, str(error)
            duration = time.perf_counter() - started
            error.samples = self._report(timestamp_ms, duration, 0, 0, 0)
            raise
        finally:
            duration = time.perf_counter() - started
            self._metrics.target_duration.labels(self._target.name).set(duration)
            self._metrics.target_up.labels(self._target.name).set(1 if self.up else 0)
        parser = self._parser
        scraped.extend(
            self._report(timestamp_ms, duration, parser.scraped, len(scraped), parser.added)
        )
        return scraped

    def _report(
        self, timestamp_ms: int, duration: float, scraped: int, kept: int, added: int
    ) -> list[samples.Sample]:
        """The series Prometheus writes about each scrape, with the target's labels only."""
        values = (
            ("up", 1.0 if self.up else 0.0),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", float(scraped)),
            ("scrape_samples_post_metric_relabeling", float(kept)),
            ("scrape_series_added", float(added)),
        )
        labels = self._report_labels
        return [samples.Sample(n, labels, v, timestamp_ms, n, "gauge") for n, v in values]

    async def _scrape(self, timestamp_ms: int) -> list[samples.Sample]:
        timeout = aiohttp.ClientTimeout(total=self._target.timeout_seconds)
        try:
            async with self._session.get(
                self._url, headers={"Accept": ACCEPT}, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise sources.CollectionError(
                        "http_status", f"{self._url} answered {response.status}"
                    )
                body = await self._read(response)
                text = body.decode("utf-8", errors="replace")  # both formats are UTF-8
                openmetrics = response.content_type == "application/openmetrics-text"
        except TimeoutError:
            raise sources.CollectionError(
                "timeout", f"{self._url} did not answer in {self._target.timeout_seconds}s"
            ) from None
        except aiohttp.ClientError as error:
            raise sources.CollectionError("connection", f"{self._url}: {error}") from None
        del body  # the text is all that is needed from here on
        limit = self._target.sample_limit
        try:
            scraped = await asyncio.to_thread(
                self._parser.parse, text, openmetrics, timestamp_ms, limit
            )
        except exposition.ExpositionError as error:
            raise sources.CollectionError("parse", f"{self._url}: {error}") from None
        except exposition.SampleLimitError as error:
            raise sources.CollectionError("sample_limit", f"{self._url}: {error}") from None
        self.up, self.last_error = True, None
        self._metrics.target_samples.labels(self._target.name).set(len(scraped))
        return scraped

    async def _read(self, response: aiohttp.ClientResponse) -> bytearray:
        """The body, refused as soon as it is longer than the target's limit."""
        limit = self._target.body_size_limit_bytes
        if response.content_length is not None and response.content_length > limit:
            raise self._too_large(limit)
        body = bytearray()  # one buffer, grown in place: no list of chunks, no join's copy
        async for chunk in response.content.iter_any():
            if len(body) + len(chunk) > limit:
                raise self._too_large(limit)
            body += chunk
        return body

    def _too_large(self, limit: int) -> sources.CollectionError:
        """Made where it is raised: an error held in a local of the frame that raises it
        would keep that frame, and the body in it, alive until the cyclic GC runs."""
        return sources.CollectionError(
            "body_size_limit", f"{self._url}: the body is larger than {limit} bytes"
        )
