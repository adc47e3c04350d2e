"""`promtool check metrics` finds nothing to complain about in the sidecar's /metrics."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from pulse_devcluster import paths, processes
from sidecar_upstreams import Prometheus, Sidecar, http_get
from tests.support import eventually


def test_promtool_finds_nothing_to_complain_about(
    prometheus: Prometheus, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(
        resources={"enabled": True},
        scrape=[
            {"name": "self", "port": prometheus.port},
            {"name": "absent", "port": processes.free_port()},
        ],
        dependencies=[
            {"type": "tcp", "name": "prometheus", "target": f"127.0.0.1:{prometheus.port}"}
        ],
        sinks=[
            {
                "type": "remote_write",
                "url": f"{prometheus.url}/api/v1/write",
                "push_interval_seconds": 0.2,
            }
        ],
    )
    running.start()
    running.post({"type": "login", "value": 1, "duration_ms": 12, "dimensions": {"method": "jwt"}})
    running.flush()
    eventually(
        lambda: running.metric('collector_target_up{target="absent"}') == 0,
        what="the failed scrape",
    )
    text = http_get(f"{running.url}/metrics")[1]
    assert b"collector_dependency_up" in text
    assert b"collector_circuit_state" in text
    checked = subprocess.run(
        [paths.binary("promtool"), "check", "metrics"], input=text, capture_output=True, check=False
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")
