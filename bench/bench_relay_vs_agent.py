"""Relay throughput and memory, Pulse's sidecar beside Prometheus in agent mode, in one run.

Both scrape the same target every second, whose counters all change on every scrape, and
remote-write to the same real Prometheus receiver (2,000 samples per request, each peer's
default). For each size the sidecar runs, then `prometheus --agent` (from `make tools`), on
an otherwise idle machine; each prints samples delivered per core-second of its own CPU
(from its own counter of samples the receiver accepted) and its RSS, and the ratios.
Issue 14's goal: at least the agent's samples per core-second up to 50,000 series, and RSS
below the agent's.

    PYTHONPATH=hack .venv/bin/python bench/bench_relay_vs_agent.py [SERIES ...]
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml
from pulse_devcluster import loopback, paths, processes

from bench_sidecar import cpu_seconds, own_metric, prometheus, rss_mib, sidecar, wait_for

WARM_UP, MEASURED = 8, 20


@dataclasses.dataclass(frozen=True)
class Figures:
    per_core: float
    per_second: float
    rss_mib: float


@contextlib.contextmanager
def changing_target(series: int) -> Iterator[int]:
    """Counters that all grow on every scrape, as a busy service's do."""
    prefixes = [f'bench_requests_total{{shard="{i % 16}",id="{i}"}} ' for i in range(series)]
    scrapes = iter(range(1, 1 << 62))
    lock = threading.Lock()

    def body(_: object) -> bytes:
        with lock:
            step = next(scrapes)
        return (
            "# TYPE bench_requests_total counter\n"
            + "".join(f"{prefix}{step + i % 7}\n" for i, prefix in enumerate(prefixes))
        ).encode()

    with loopback.serve(body, content_type="text/plain; version=0.0.4") as port:
        yield port


def measure(pid: int, delivered: Callable[[], float]) -> Figures:
    time.sleep(WARM_UP)
    sent, cpu = delivered(), cpu_seconds(pid)
    time.sleep(MEASURED)
    sent, cpu = delivered() - sent, cpu_seconds(pid) - cpu
    return Figures(sent / cpu if cpu else 0.0, sent / MEASURED, rss_mib(pid))


def pulse(workdir: Path, port: int, receiver: str) -> Figures:
    settings = {
        "resources": {"enabled": False},
        "scrape": [{"name": "app", "port": port, "interval_seconds": 1, "timeout_seconds": 1}],
        "sinks": [
            {"type": "remote_write", "url": f"{receiver}/api/v1/write", "push_interval_seconds": 1}
        ],
        "buffer": {"max_samples": 1_000_000},
    }
    with sidecar(workdir, settings) as (url, pid):
        sent = 'collector_samples_sent_total{sink="remote-write"}'
        return measure(pid, lambda: own_metric(url, sent))


def agent(workdir: Path, port: int, receiver: str) -> Figures:
    settings = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        ],
        "remote_write": [{"url": f"{receiver}/api/v1/write"}],
    }
    (workdir / "agent.yml").write_text(yaml.safe_dump(settings))
    listen = processes.free_port()
    process = processes.ManagedProcess.start(
        "agent",
        [
            paths.binary("prometheus"),
            "--agent",
            f"--config.file={workdir / 'agent.yml'}",
            f"--storage.agent.path={workdir / 'agent-data'}",
            f"--web.listen-address=127.0.0.1:{listen}",
        ],
        workdir,
    )
    url = f"http://127.0.0.1:{listen}"
    try:
        wait_for(f"{url}/-/ready", process)
        return measure(
            process.pid, lambda: own_metric(url, "prometheus_remote_storage_samples_total")
        )
    finally:
        process.stop()


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 50_000]
    print(
        "| series | Pulse per core | agent per core | ratio | Pulse RSS | agent RSS | RSS ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        for series in sizes:
            root = Path(tmp) / str(series)
            for peer in ("receiver", "pulse", "agent"):
                (root / peer).mkdir(parents=True)
            with changing_target(series) as port, prometheus(root / "receiver") as receiver:
                ours = pulse(root / "pulse", port, receiver)
                theirs = agent(root / "agent", port, receiver)
            print(
                f"| {series:,} | {ours.per_core:,.0f} ({ours.per_second:,.0f}/s) "
                f"| {theirs.per_core:,.0f} ({theirs.per_second:,.0f}/s) "
                f"| {ours.per_core / theirs.per_core:.2f} "
                f"| {ours.rss_mib:.0f} MiB | {theirs.rss_mib:.0f} MiB "
                f"| {ours.rss_mib / theirs.rss_mib:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
