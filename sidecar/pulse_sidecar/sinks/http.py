"""One sink's HTTP side: its connection pool, its credentials, and what an answer means.

Every failure becomes a SinkError that says whether the sink's protocol allows a retry and
how long the upstream asked us to wait, so that retries and the circuit breaker are decided
in one place (`delivery`) for all sinks.
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp

from pulse_sidecar import config, identity, telemetry

USER_AGENT = f"pulse-sidecar/{identity.version()}"


class SinkError(Exception):
    """A request to a sink failed; `reason` is a short label value for metrics."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = headers or {}
        """The answer's headers, when there was an answer."""
        self.written = 0
        """Samples of the request the upstream says it stored all the same (remote write
        2.0 answers a partial write with an error status and a written count)."""


def retry_after_seconds(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """The wait a Retry-After header asks for, in seconds (delay or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return max(0.0, (moment - (now or datetime.datetime.now(datetime.UTC))).total_seconds())


class SinkClient:
    """Sends requests to one sink through its own pool, with its credentials."""

    def __init__(
        self,
        settings: config.SinkConfig,
        retryable_status: Callable[[int], bool],
        metrics: telemetry.Telemetry,
    ) -> None:
        self._settings = settings
        self._retryable_status = retryable_status
        self._in_flight = metrics.requests_in_flight.labels(settings.name)
        metrics.pool_connections.labels(settings.name).set(settings.pool.max_connections)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.pool.max_connections,
                limit_per_host=settings.pool.max_connections_per_host,
            ),
            timeout=aiohttp.ClientTimeout(total=settings.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Mapping[str, str]:
        """Sends one request; returns the answer's headers, or raises SinkError unless the
        answer is a 2xx."""
        request_headers = {**headers, **self._credentials()}
        try:
            with self._in_flight.track_inprogress():
                async with self._session.request(
                    method, url, data=body, headers=request_headers
                ) as response:
                    if response.status < 300:
                        return response.headers
                    detail = (await response.content.read(512)).decode("utf-8", "replace")
                    raise SinkError(
                        f"http_{response.status}",
                        f"{method} {url} answered {response.status}: {detail.strip()}",
                        retryable=self._retryable_status(response.status),
                        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                        headers=response.headers,
                    )
        except TimeoutError:
            raise SinkError(
                "timeout",
                f"{method} {url}: no answer within {self._settings.timeout_seconds}s",
                retryable=True,
            ) from None
        except aiohttp.ClientError as error:
            raise SinkError("connection", f"{method} {url}: {error}", retryable=True) from None

    def _credentials(self) -> dict[str, str]:
        """Read at each request: a rotated Secret takes effect without a restart."""
        settings = self._settings
        try:
            if settings.bearer_token_file is not None:
                return {"Authorization": f"Bearer {_read(settings.bearer_token_file)}"}
            if settings.basic_auth is not None:
                user = _read(settings.basic_auth.username_file)
                password = _read(settings.basic_auth.password_file)
                return {"Authorization": aiohttp.encode_basic_auth(user, password)}
        except (OSError, ValueError) as error:
            raise SinkError(
                "credentials", f"cannot read a credential file: {error}", retryable=True
            ) from None
        return {}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()
