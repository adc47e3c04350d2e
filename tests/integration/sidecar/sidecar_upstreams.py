"""Real upstreams and the real sidecar command, driven from tests over loopback HTTP.

Every process listens on a free loopback port and keeps its data in the test's temporary
directory. A missing binary raises pulse_devcluster's MissingToolError, which names
`make tools`: the test fails, it is never skipped.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulse_devcluster import paths, processes
from tests.support import eventually

SIDECAR = Path(sys.executable).parent / "pulse-sidecar"


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def http_send(url: str, body: bytes | None = None, method: str = "POST") -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Prometheus:
    """A real Prometheus accepting remote write; stop and start it to simulate an outage."""

    def __init__(
        self,
        workdir: Path,
        host: str = "127.0.0.1",
        accepted_messages: str | None = None,
        features: str | None = None,
    ) -> None:
        """`host` is the address it listens on: loopback, or a real node's pod gateway;
        `accepted_messages` the remote write messages it takes (both 1.0 and 2.0 unset);
        `features` its --enable-feature."""
        self.binary = paths.binary("prometheus")
        self.options = [
            *([f"--web.remote-write-receiver.accepted-protobuf-messages={accepted_messages}"]
              if accepted_messages else []),
            *([f"--enable-feature={features}"] if features else []),
        ]  # fmt: skip
        self.workdir = workdir
        self.host = host
        self.port = processes.free_port()
        self.url = f"http://{host}:{self.port}"
        self.process: processes.ManagedProcess | None = None
        (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")

    def start(self) -> None:
        self.process = processes.ManagedProcess.start(
            "prometheus",
            [
                self.binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address={self.host}:{self.port}",
                "--web.enable-remote-write-receiver",
                "--web.enable-otlp-receiver",
                *self.options,
            ],
            self.workdir,
        )
        eventually(self._ready, what="Prometheus to be ready")

    def _ready(self) -> bool:
        assert self.process is not None
        self.process.ensure_running()
        return http_get(f"{self.url}/-/ready")[0] == 200

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def query(self, promql: str) -> list[dict[str, Any]]:
        status, body = http_get(
            f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        )
        assert status == 200, body
        result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
        return result

    def values(self, promql: str) -> dict[frozenset[tuple[str, str]], float]:
        """Instant query: each series' labels (without __name__) and value."""
        return {
            frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(
                r["value"][1]
            )
            for r in self.query(promql)
        }

    def own_metric(self, name: str) -> float:
        """A counter or gauge of Prometheus's own /metrics (0 when absent)."""
        for line in http_get(f"{self.url}/metrics")[1].decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return 0.0

    def samples(self, selector: str) -> list[float]:
        """Every sample of the one series matching `selector`, oldest first."""
        result = self.query(f"{selector}[1h]")
        assert len(result) == 1, result
        return [float(value) for _, value in result[0]["values"]]


@dataclass
class Recorded:
    at: float
    status: int
    body: bytes = b""


@dataclass
class Proxy:
    """An HTTP hop in front of an upstream that records every request it sees.

    `answer` None forwards to `upstream` (503 when it is down, as an ingress would);
    a number answers that status without forwarding. `delay` seconds pass between the
    upstream's answer and the proxy's: a slow receiver that has already stored the request.
    """

    upstream: str
    answer: int | None = None
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.answer is not None:
            return self.answer
        request = urllib.request.Request(self.upstream + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 503
        time.sleep(self.delay)
        return status


class Sidecar:
    """The real `pulse-sidecar` command with a configuration written to a file."""

    def __init__(self, workdir: Path, settings: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {
            "collector": {"name": "checkout", "namespace": "shop", "pod": "checkout-7d9f"},
            "resources": {"enabled": False},
            "spool": {"path": str(workdir / "spool.db")},
            **settings,
            "server": {"address": "127.0.0.1", "port": self.port, **settings.get("server", {})},
        }
        self.config = workdir / "sidecar.yaml"
        self.config.write_text(yaml.safe_dump(settings))
        self.process: processes.ManagedProcess | None = None

    def start(self) -> None:
        self.process = processes.ManagedProcess.start(
            f"sidecar-{int(time.monotonic() * 1000)}",
            [SIDECAR, "--config", self.config],
            self.workdir,
        )

        def ready() -> bool:
            assert self.process is not None
            self.process.ensure_running()
            return http_get(f"{self.url}/ready")[0] == 200

        eventually(ready, what="the sidecar to be ready")

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Signals the sidecar and returns its exit status."""
        assert self.process is not None
        popen = self.process.popen
        popen.send_signal(how)
        try:
            return popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
            pytest.fail(f"the sidecar did not exit within {timeout}s of {how.name}")
        finally:
            self.process = None

    def post(self, *events: dict[str, Any]) -> Any:
        status, answer = http_send(
            f"{self.url}/metrics",
            json.dumps({"service": "checkout", "metrics": list(events)}).encode(),
        )
        assert status == 200, answer
        return answer

    def flush(self) -> Any:
        status, answer = http_send(f"{self.url}/flush")
        assert status == 200, answer
        return answer

    def status(self) -> Any:
        return http_send(f"{self.url}/status", method="GET")[1]

    def metric(self, line_start: str) -> float | None:
        """The value of the first exposition line starting with `line_start`."""
        text = http_get(f"{self.url}/metrics")[1].decode()
        for line in text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return None

    def log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.workdir.glob("sidecar-*.log")))
