"""A small collector to run beside the Pulse sidecar when there is no real one at hand.

It serves its own Prometheus metrics (a request counter and a latency histogram for its
`/work` route), drives steady traffic against itself so those metrics move without any
client, and pushes events to the sidecar's ingest API. Errors and latency are knobs, set
from the environment at start and over HTTP while it runs, so alerts and SLOs built on
its metrics can be made to fire on purpose.

Only the standard library: the image needs no pip, and it runs as a non-root user with a
read-only root filesystem (it writes nothing).

    python app.py --port 8080
    curl -s localhost:8080/metrics
    curl -s localhost:8080/knobs -d '{"errorRatio": 0.2, "latencySeconds": 0.05}'

Environment: DEMO_PORT, DEMO_HOST, DEMO_ERROR_RATIO, DEMO_LATENCY_SECONDS, DEMO_RATE,
DEMO_SIDECAR_URL, DEMO_SIDECAR_API_KEY, DEMO_SERVICE, DEMO_EVENT_TYPE,
DEMO_EVENT_INTERVAL_SECONDS, DEMO_LOG_LEVEL. Command-line flags win over the environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, ClassVar, cast

VERSION = "0.1.0"
DESCRIPTION = "A demo collector: its own metrics, self-traffic, error and latency knobs, events."
ROUTE = "/work"
CODES = ("200", "500")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Upper bounds of the latency histogram, in seconds; +Inf is added when rendering."""
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_LATENCY_SECONDS = 300.0
"""A bound on the delay knob, so that a typo cannot park every worker thread for hours."""
MAX_RATE = 1000.0
"""A bound on the self-traffic rate: this is a demo, not a load generator."""
MAX_IN_FLIGHT = 32
"""Self-traffic requests waiting at once; beyond it, ticks are skipped (and counted)."""
MAX_BODY_BYTES = 64 * 1024
PUSH_TIMEOUT_SECONDS = 5.0
SERVICE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
"""What the sidecar's ingest accepts as `service` (docs/contracts.md)."""
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

log = logging.getLogger("demo_collector")


class SettingError(ValueError):
    """A knob or setting with a bad value; `field` names it as the caller spelled it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _number(value: object) -> float | None:
    """The value as a finite float if it is a JSON number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclasses.dataclass(frozen=True)
class Knobs:
    """What shapes the `/work` answers and the self-traffic. Immutable: a change swaps the
    whole object, so a request never sees half of an update."""

    error_ratio: float = 0.0
    latency_seconds: float = 0.0
    rate: float = 5.0
    ready: bool = True
    """What /healthz answers (200 or 503): a readiness probe on it can be made to fail."""

    FIELDS: ClassVar[dict[str, str]] = {
        "errorRatio": "error_ratio",
        "latencySeconds": "latency_seconds",
        "rate": "rate",
        "ready": "ready",
    }
    ENV: ClassVar[dict[str, str]] = {
        "DEMO_ERROR_RATIO": "errorRatio",
        "DEMO_LATENCY_SECONDS": "latencySeconds",
        "DEMO_RATE": "rate",
    }

    def as_json(self) -> dict[str, float | bool]:
        return {name: getattr(self, attribute) for name, attribute in self.FIELDS.items()}

    def updated(self, changes: Mapping[str, object]) -> Knobs:
        """These knobs with `changes` (JSON names) applied; all or nothing.

        Raises SettingError naming the first bad field, so a caller can fix it without
        guessing which of several values was refused.
        """
        values: dict[str, float] = {}
        ready = self.ready
        for name, raw in changes.items():
            if name not in self.FIELDS:
                known = ", ".join(self.FIELDS)
                raise SettingError(name, f"is not a knob (known: {known})")
            if name == "ready":
                if not isinstance(raw, bool):
                    raise SettingError(name, "must be true or false")
                ready = raw
                continue
            values[self.FIELDS[name]] = _check_knob(name, _number(raw))
        return Knobs(
            error_ratio=values.get("error_ratio", self.error_ratio),
            latency_seconds=values.get("latency_seconds", self.latency_seconds),
            rate=values.get("rate", self.rate),
            ready=ready,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Knobs:
        """The starting knobs from DEMO_* variables; raises SettingError naming the variable."""
        knobs = cls()
        for variable, name in cls.ENV.items():
            text = env.get(variable)
            if text is None or not text.strip():
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            try:
                knobs = knobs.updated({name: value})
            except SettingError as error:
                raise SettingError(variable, f"{error.message} (got {text!r})") from None
        return knobs


def _check_knob(name: str, value: float | None) -> float:
    if name == "errorRatio":
        if value is None or not 0.0 <= value <= 1.0:
            raise SettingError(name, "must be a number from 0 to 1")
    elif name == "latencySeconds":
        if value is None or not 0.0 <= value <= MAX_LATENCY_SECONDS:
            raise SettingError(
                name, f"must be a number of seconds from 0 to {MAX_LATENCY_SECONDS:g}"
            )
    elif value is None or not 0.0 < value <= MAX_RATE:
        raise SettingError(
            name, f"must be a number of requests per second above 0, at most {MAX_RATE:g}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything fixed at start."""

    host: str = "0.0.0.0"
    port: int = 8080
    knobs: Knobs = Knobs()
    sidecar_url: str = "http://127.0.0.1:8000"
    sidecar_api_key: str | None = None
    service: str = "demo-collector"
    event_type: str = "demo_work"
    event_interval_seconds: float = 10.0
    instance_id: str = dataclasses.field(default_factory=socket.gethostname)


def settings_from(argv: Sequence[str], env: Mapping[str, str]) -> Settings:
    """Settings from flags, then DEMO_* variables, then defaults; SettingError if bad."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="demo-collector", description=DESCRIPTION)
    parser.add_argument("--host", default=env.get("DEMO_HOST", defaults.host))
    parser.add_argument("--port", default=env.get("DEMO_PORT", str(defaults.port)))
    parser.add_argument("--sidecar-url", default=env.get("DEMO_SIDECAR_URL", defaults.sidecar_url))
    parser.add_argument(
        "--event-interval",
        default=env.get("DEMO_EVENT_INTERVAL_SECONDS", str(defaults.event_interval_seconds)),
        help="seconds between pushes of events to the sidecar",
    )
    args = parser.parse_args(list(argv))
    try:
        port = int(args.port)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise SettingError("port", f"must be a TCP port from 0 to 65535 (got {args.port!r})")
    interval = _number(_float_or_nan(args.event_interval))
    if interval is None or not 0 < interval <= 3600:
        raise SettingError(
            "DEMO_EVENT_INTERVAL_SECONDS",
            f"must be seconds above 0, at most 3600 (got {args.event_interval!r})",
        )
    url = str(args.sidecar_url).rstrip("/")
    if not re.match(r"^https?://[^\s/]+", url):
        raise SettingError("DEMO_SIDECAR_URL", f"must be an http:// or https:// URL (got {url!r})")
    service = env.get("DEMO_SERVICE", defaults.service)
    if not SERVICE_PATTERN.match(service):
        raise SettingError("DEMO_SERVICE", "must be 1-100 letters, digits, '-' or '_'")
    event_type = env.get("DEMO_EVENT_TYPE", defaults.event_type)
    if not METRIC_NAME.match(event_type):
        raise SettingError("DEMO_EVENT_TYPE", "must be a Prometheus metric name")
    return Settings(
        host=args.host,
        port=port,
        knobs=Knobs.from_env(env),
        sidecar_url=url,
        sidecar_api_key=env.get("DEMO_SIDECAR_API_KEY") or None,
        service=service,
        event_type=event_type,
        event_interval_seconds=interval,
        instance_id=env.get("HOSTNAME") or socket.gethostname(),
    )


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _format(value: float) -> str:
    """A sample value as Prometheus' text format writes it (integers without a fraction)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Metrics:
    """This app's own metrics, kept by hand: the standard library has no Prometheus client.

    One lock guards all of them, and `/work` picks its status code under the same lock
    it records under, so a scrape never sees a request half-counted.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = dict.fromkeys(CODES, 0)
        self.bucket_counts = [0] * len(BUCKETS)
        self.duration_count = 0
        self.duration_sum = 0.0
        self.pushes = dict.fromkeys(("accepted", "rejected", "failed"), 0)
        self.skipped = 0
        self._error_debt = 0.0
        # per code: requests and seconds since the last successful push to the sidecar
        self.unpushed: dict[str, list[float]] = {code: [0, 0.0] for code in CODES}

    def record_work(self, error_ratio: float, seconds: float) -> str:
        """Picks this request's status code and counts it; returns the code.

        Failures are spread evenly rather than drawn at random: over any n requests the
        number of 500s is within one of n * errorRatio, so graphs are steady even at a
        few requests per second and tests need no statistics.
        """
        with self.lock:
            self._error_debt += error_ratio
            code = "200"
            if self._error_debt >= 1.0 - 1e-9:
                self._error_debt -= 1.0
                code = "500"
            self.requests[code] += 1
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.bucket_counts[index] += 1
            self.duration_count += 1
            self.duration_sum += seconds
            self.unpushed[code][0] += 1
            self.unpushed[code][1] += seconds
            return code

    def take_unpushed(self) -> dict[str, tuple[int, float]]:
        with self.lock:
            taken = {code: (int(count), total) for code, (count, total) in self.unpushed.items()}
            self.unpushed = {code: [0, 0.0] for code in CODES}
            return taken

    def give_back(self, taken: Mapping[str, tuple[int, float]]) -> None:
        """Returns counts a failed push could not deliver, so the next push carries them."""
        with self.lock:
            for code, (count, total) in taken.items():
                self.unpushed[code][0] += count
                self.unpushed[code][1] += total

    def count_push(self, outcome: str) -> None:
        with self.lock:
            self.pushes[outcome] += 1

    def count_skipped(self) -> None:
        with self.lock:
            self.skipped += 1

    def render(self, knobs: Knobs) -> str:
        """The text exposition format 0.0.4."""
        out: list[str] = []

        def family(name: str, kind: str, text: str) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")

        route = f'route="{ROUTE}"'
        with self.lock:
            family("demo_requests_total", "counter", "Requests answered on /work, by status code.")
            for code in CODES:
                out.append(f'demo_requests_total{{code="{code}",{route}}} {self.requests[code]}')
            family(
                "demo_request_duration_seconds",
                "histogram",
                "Time to answer /work, the configured delay included.",
            )
            for bound, count in zip(BUCKETS, self.bucket_counts, strict=True):
                out.append(
                    f'demo_request_duration_seconds_bucket{{{route},le="{bound!r}"}} {count}'
                )
            out.append(
                f'demo_request_duration_seconds_bucket{{{route},le="+Inf"}} {self.duration_count}'
            )
            out.append(f"demo_request_duration_seconds_sum{{{route}}} {_format(self.duration_sum)}")
            out.append(f"demo_request_duration_seconds_count{{{route}}} {self.duration_count}")
            family(
                "demo_event_pushes_total",
                "counter",
                "Pushes of events to the sidecar: accepted, rejected (4xx) or failed (retried).",
            )
            for outcome, count in self.pushes.items():
                out.append(f'demo_event_pushes_total{{outcome="{outcome}"}} {count}')
            family(
                "demo_self_requests_skipped_total",
                "counter",
                f"Self-traffic ticks skipped because {MAX_IN_FLIGHT} requests were waiting.",
            )
            out.append(f"demo_self_requests_skipped_total {self.skipped}")
        for name, value, text in (
            ("demo_knob_error_ratio", knobs.error_ratio, "Share of /work requests answered 500."),
            ("demo_knob_latency_seconds", knobs.latency_seconds, "Delay added to /work."),
            ("demo_knob_rate", knobs.rate, "Self-traffic against /work, requests per second."),
        ):
            family(name, "gauge", text)
            out.append(f"{name} {_format(value)}")
        return "\n".join(out) + "\n"


class App:
    """The server, the self-traffic and the event pusher; `start` and `stop` them together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.knobs = settings.knobs
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self._knob_lock = threading.Lock()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="traffic")
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._sidecar_down = False
        self._traffic_failing = False
        self._rejections_logged: set[int] = set()

    @property
    def port(self) -> int:
        """The bound port (the one chosen by the kernel when started with port 0)."""
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def set_knobs(self, changes: Mapping[str, object]) -> Knobs:
        with self._knob_lock:
            self.knobs = self.knobs.updated(changes)
        log.info("knobs changed", extra={"fields": {"knobs": self.knobs.as_json()}})
        return self.knobs

    def start(self) -> None:
        self._server = _Server((self.settings.host, self.settings.port), _Handler, self)
        for target, name in (
            (self._serve, "http"),
            (self._drive_traffic, "traffic"),
            (self._push_events, "events"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "listening",
            extra={
                "fields": {
                    "host": self.settings.host,
                    "port": self.port,
                    "knobs": self.knobs.as_json(),
                    "sidecar": self.settings.sidecar_url,
                    "version": VERSION,
                }
            },
        )

    def _serve(self) -> None:
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.1)  # `shutdown` waits up to one interval

    def stop(self) -> None:
        """Stops the self-traffic, lets requests in progress finish (a delay is cut short),
        stops the server, then pushes the counts the sidecar has not had yet. Idempotent."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        for thread in self._threads[1:]:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._server is not None:
            self._server.shutdown()
            self._threads[0].join(timeout=10)
            self._server.server_close()
        self.push_once()
        log.info("stopped", extra={"fields": {"requests": dict(self.metrics.requests)}})

    # /work ------------------------------------------------------------------------------

    def work(self) -> str:
        """One /work answer: wait the configured delay, then 200 or (for the share) 500."""
        knobs = self.knobs
        started = time.monotonic()
        if knobs.latency_seconds > 0:
            self.stopping.wait(knobs.latency_seconds)
        return self.metrics.record_work(knobs.error_ratio, time.monotonic() - started)

    def _drive_traffic(self) -> None:
        """Requests against our own /work at the configured rate, through real HTTP, so the
        metrics move as they would with outside clients."""
        host = self.settings.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}{ROUTE}"
        last = time.monotonic()
        while not self.stopping.is_set():
            # Re-read the rate at least every 0.25 s, so a change applies at once.
            due = last + 1.0 / self.knobs.rate
            now = time.monotonic()
            if now < due:
                self.stopping.wait(min(due - now, 0.25))
                continue
            last = due if now - due < 1.0 else now  # keep the cadence; after a stall, no burst
            if not self._slots.acquire(blocking=False):
                self.metrics.count_skipped()
                continue
            future = self._pool.submit(self._request, url)
            future.add_done_callback(lambda _: self._slots.release())

    def _request(self, url: str) -> None:
        timeout = self.knobs.latency_seconds + 10
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            error.read()  # a 500 is one of the answers this app is asked to give
            error.close()
        except OSError as error:
            if not self.stopping.is_set() and not self._traffic_failing:
                self._traffic_failing = True
                log.warning("self-traffic failed", extra={"fields": {"error": str(error)}})
            return
        if self._traffic_failing:
            self._traffic_failing = False
            log.info("self-traffic works again")

    # events -----------------------------------------------------------------------------

    def _push_events(self) -> None:
        while not self.stopping.wait(self.settings.event_interval_seconds):
            self.push_once()

    def push_once(self) -> bool:
        """Pushes the /work counts since the last accepted push as events; True if accepted.

        One event per status code: `value` is the number of requests, `duration_ms` their
        mean time (so the sidecar's `<type>_duration_seconds` gets one observation per code
        per push). When the sidecar is down, too busy (429) or failing (5xx), the counts
        are kept for the next push and the outage is logged once; a 4xx other than 429
        means the events themselves were refused, so retrying cannot help: they are dropped
        and the refusal is logged once per status.
        """
        taken = self.metrics.take_unpushed()
        events: list[dict[str, Any]] = []
        for code, (count, seconds) in taken.items():
            event: dict[str, Any] = {
                "type": self.settings.event_type,
                "value": float(count),
                "dimensions": {"code": code, "route": ROUTE},
                "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            }
            if count:
                event["duration_ms"] = round(seconds / count * 1000, 3)
            events.append(event)
        body = json.dumps(
            {
                "service": self.settings.service,
                "version": VERSION,
                "instance_id": self.settings.instance_id[:200],
                "metrics": events,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"demo-collector/{VERSION}"}
        if self.settings.sidecar_api_key:
            headers["X-API-Key"] = self.settings.sidecar_api_key
        request = urllib.request.Request(
            f"{self.settings.sidecar_url}/metrics", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read(2000).decode("utf-8", "replace")
            error.close()
            if error.code == 429 or error.code >= 500:
                return self._push_failed(taken, f"HTTP {error.code}: {detail}")
            self.metrics.count_push("rejected")
            if error.code not in self._rejections_logged:
                self._rejections_logged.add(error.code)
                log.error(
                    "the sidecar refused the events; they are dropped",
                    extra={"fields": {"status": error.code, "detail": detail}},
                )
            return False
        except OSError as error:  # refused, reset, timed out, no such host
            return self._push_failed(taken, str(error))
        self.metrics.count_push("accepted")
        if self._sidecar_down:
            self._sidecar_down = False
            log.info(
                "the sidecar accepts events again", extra={"fields": {"url": request.full_url}}
            )
        return True

    def _push_failed(self, taken: Mapping[str, tuple[int, float]], error: str) -> bool:
        self.metrics.give_back(taken)
        self.metrics.count_push("failed")
        if self.stopping.is_set():
            log.warning(
                "cannot push the last events to the sidecar before stopping",
                extra={
                    "fields": {"error": error, "unpushed": {c: n for c, (n, _) in taken.items()}}
                },
            )
        elif not self._sidecar_down:
            self._sidecar_down = True
            log.warning(
                "cannot push events to the sidecar; keeping the counts and retrying",
                extra={
                    "fields": {
                        "url": f"{self.settings.sidecar_url}/metrics",
                        "error": error,
                        "retry_seconds": self.settings.event_interval_seconds,
                    }
                },
            )
        return False


class _Server(ThreadingHTTPServer):
    """One thread per connection, so a slow /work (the latency knob) blocks nobody else."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: App
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = f"demo-collector/{VERSION}"
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> App:
        return cast(_Server, self.server).app

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == ROUTE:
            code = self.app.work()
            self._json(int(code), {"status": "ok" if code == "200" else "error"})
        elif path == "/metrics":
            text = self.app.metrics.render(self.app.knobs)
            self._send(200, text.encode(), EXPOSITION_CONTENT_TYPE)
        elif path == "/knobs":
            self._json(200, self.app.knobs.as_json())
        elif path == "/healthz":
            ready = self.app.knobs.ready
            self._json(200 if ready else 503, {"status": "ok" if ready else "not ready"})
        else:
            self._json(404, {"error": f"no such path: {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != "/knobs":
            self.close_connection = True  # the body, if any, is left unread
            status = 405 if path in (ROUTE, "/metrics", "/healthz") else 404
            self._json(status, {"error": f"POST is not served on {path}"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._json(411, {"error": "a Content-Length header is required"})
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._json(413, {"error": f"the body is over {MAX_BODY_BYTES} bytes"})
            return
        raw = self.rfile.read(length)
        try:
            document = json.loads(raw)
        except ValueError:
            self._json(400, {"error": "the body must be a JSON object", "field": "body"})
            return
        if not isinstance(document, dict):
            self._json(400, {"error": "the body must be a JSON object", "field": "body"})
            return
        try:
            knobs = self.app.set_knobs(document)
        except SettingError as error:
            self._json(400, {"error": str(error), "field": error.field})
            return
        self._json(200, knobs.as_json())

    def _json(self, status: int, document: Mapping[str, object]) -> None:
        self._send(status, json.dumps(document).encode() + b"\n", "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: self-traffic would write several access lines a second."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so log pipelines need no parsing rules for this app."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, "fields", {}))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def main(argv: Sequence[str] | None = None) -> int:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=os.environ.get("DEMO_LOG_LEVEL", "INFO").upper(), handlers=[handler])
    try:
        settings = settings_from(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingError as error:
        log.error("invalid setting", extra={"fields": {"field": error.field, "error": str(error)}})
        return 2
    app = App(settings)
    try:
        app.start()
    except OSError as error:
        log.error("cannot listen", extra={"fields": {"port": settings.port, "error": str(error)}})
        return 1
    stop = threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"fields": {"signal": signal.Signals(number).name}})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
