"""Sidecar benchmarks: idle footprint, event ingest, and relay to a real remote-write receiver.

Runs the real `pulse-sidecar` command and a real Prometheus (from `make tools`) on loopback
and prints one line per figure. Goals from issue 5: idle RSS under 45 MB; ingest of 1,000
requests/s of 100-event batches at p99 under 50 ms on one core; relay of 100,000 samples/s per
core from scrape to remote_write.

    PYTHONPATH=hack .venv/bin/python bench/bench_sidecar.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from pulse_devcluster import exposition, paths, processes

SIDECAR = Path(sys.executable).parent / "pulse-sidecar"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def wait_for(url: str, process: processes.ManagedProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process.ensure_running()
        with contextlib.suppress(OSError):
            get(url)
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_metric(url: str, line_start: str) -> float:
    for line in get(f"{url}/metrics").decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextlib.contextmanager
def target(series: int) -> Iterator[int]:
    """A scrape target serving `series` gauges in Prometheus text format."""
    body = (
        "# TYPE bench_value gauge\n"
        + "".join(f'bench_value{{shard="{i % 16}",id="{i}"}} {i}.5\n' for i in range(series))
    ).encode()

    with exposition.serving(body) as port:
        yield port


@contextlib.contextmanager
def prometheus(workdir: Path) -> Iterator[str]:
    port = processes.free_port()
    (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    process = processes.ManagedProcess.start(
        "prometheus",
        [
            paths.binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ],
        workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/-/ready", process)
        yield url
    finally:
        process.stop()


@contextlib.contextmanager
def sidecar(workdir: Path, settings: dict[str, Any]) -> Iterator[tuple[str, int]]:
    port = processes.free_port()
    config = {
        "collector": {"name": "bench", "namespace": "bench", "pod": "bench-0"},
        "server": {"address": "127.0.0.1", "port": port},
        "spool": {"path": str(workdir / "spool.db")},
        "log_level": "WARNING",
        **settings,
    }
    path = workdir / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    process = processes.ManagedProcess.start("sidecar", [SIDECAR, "--config", path], workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/ready", process)
        yield url, process.pid
    finally:
        process.stop()


STACK_ONLY = """
import sys
import cramjam, prometheus_client, sqlite3, yaml
from aiohttp import web
from pydantic import AnyHttpUrl, BaseModel

class Settings(BaseModel):
    url: AnyHttpUrl

Settings(url="http://127.0.0.1/")
app = web.Application()
app.router.add_get("/health", lambda request: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""
"""The peer for idle memory: the sidecar's libraries imported and an aiohttp server doing
nothing else, so that the figure shows what Pulse adds over the stack it is built on."""


def stack_only_rss(workdir: Path) -> float:
    port = processes.free_port()
    process = processes.ManagedProcess.start(
        "stack-only", [sys.executable, "-c", STACK_ONLY, str(port)], workdir
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        time.sleep(5)
        return rss_mib(process.pid)
    finally:
        process.stop()


def idle(workdir: Path) -> None:
    with target(100) as port, prometheus(workdir) as receiver:
        settings = {
            "scrape": [{"name": "app", "port": port}],
            "sinks": [{"type": "remote_write", "url": f"{receiver}/api/v1/write"}],
        }
        with sidecar(workdir, settings) as (_, pid):
            time.sleep(5)
            before = cpu_seconds(pid)
            time.sleep(15)
            cpu = (cpu_seconds(pid) - before) / 15
            rss = rss_mib(pid)
    floor = stack_only_rss(workdir)
    print(
        f"idle: RSS {rss:.1f} MiB = {rss * 2**20 / 1e6:.1f} MB (goal < 45 MB), CPU at rest "
        f"{cpu * 100:.2f}% of a core (one scrape target of 100 series, remote_write, resources, "
        f"ingest); its libraries alone, serving nothing: {floor:.1f} MiB (ratio {rss / floor:.2f})"
    )


async def load(url: str, seconds: float, concurrency: int) -> list[float]:
    batch = json.dumps(
        {
            "service": "checkout",
            "metrics": [
                {
                    "type": f"bench_event_{i % 5}",
                    "value": 1.0,
                    "duration_ms": 12.5,
                    "dimensions": {"method": ("jwt", "oauth", "basic")[i % 3], "region": "eu"},
                    "metadata": {"trace_id": f"t{i}"},
                }
                for i in range(100)
            ],
        }
    ).encode()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with session.post(f"{url}/metrics", data=batch) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"ingest answered {response.status}")
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies


def ingest(workdir: Path) -> None:
    settings = {"resources": {"enabled": False}, "ingest": {"rate_limit_per_minute": 1_000_000}}
    with sidecar(workdir, settings) as (url, pid):
        asyncio.run(load(url, 2, 8))  # warm up
        for concurrency, seconds in ((1, 10), (8, 10)):
            before = cpu_seconds(pid)
            latencies = asyncio.run(load(url, seconds, concurrency))
            cpu = (cpu_seconds(pid) - before) / seconds
            cuts = statistics.quantiles(latencies, n=100)
            print(
                f"ingest: {len(latencies) / seconds:,.0f} requests/s of 100-event batches, "
                f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms "
                f"({concurrency} concurrent clients, sidecar CPU {cpu:.2f} core)"
            )


def relay(workdir: Path) -> None:
    series, seconds = 50_000, 20
    with target(series) as port, prometheus(workdir) as receiver:
        settings = {
            "resources": {"enabled": False},
            "scrape": [{"name": "app", "port": port, "interval_seconds": 1, "timeout_seconds": 1}],
            "sinks": [
                {
                    "type": "remote_write",
                    "url": f"{receiver}/api/v1/write",
                    "push_interval_seconds": 1,
                    "max_samples_per_send": 5000,
                }
            ],
            "buffer": {"max_samples": 1_000_000},
        }
        with sidecar(workdir, settings) as (url, pid):
            time.sleep(3)
            sent = 'collector_samples_sent_total{sink="remote-write"}'
            before_sent, before_cpu = own_metric(url, sent), cpu_seconds(pid)
            time.sleep(seconds)
            delivered = own_metric(url, sent) - before_sent
            cpu = cpu_seconds(pid) - before_cpu
            print(
                f"relay: {delivered / seconds:,.0f} samples/s scraped and remote-written, "
                f"{delivered / cpu:,.0f} samples/s per core (sidecar CPU {cpu / seconds:.2f} core; "
                f"{series:,} series scraped every second, Prometheus {receiver} receiving)"
            )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        root = Path(tmp)
        for name, bench in (("idle", idle), ("ingest", ingest), ("relay", relay)):
            workdir = root / name
            workdir.mkdir()
            bench(workdir)


if __name__ == "__main__":
    main()
