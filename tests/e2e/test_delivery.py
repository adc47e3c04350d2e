"""What reaches a real Prometheus from a sidecar in a real pod: through an outage and a
killed sidecar container, and after a configuration change rolls the pods."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.e2e.conftest import Scene, sidecar_status
from tests.integration.sidecar.sidecar_upstreams import Prometheus
from tests.support import eventually

OUTAGE_SECONDS = 120.0
SCRAPE_SECONDS = 5.0
PUSH_SECONDS = 5.0


def _timestamps(receiver: Prometheus, pod_name: str) -> list[float]:
    """When each scrape of the demo collector was taken, as the receiver stored them (its
    histogram's count is exported from the first scrape on: one sample per scrape)."""
    result = receiver.query(f'demo_request_duration_seconds_count{{pod="{pod_name}"}}[1h]')
    assert len(result) == 1, result
    return [float(t) for t, _ in result[0]["values"]]


def _timestamps_if_any(receiver: Prometheus, pod_name: str) -> list[float]:
    if not receiver.query(f'demo_request_duration_seconds_count{{pod="{pod_name}"}}'):
        return []
    return _timestamps(receiver, pod_name)


def _gaps(stamps: list[float], start: float, end: float) -> list[tuple[float, float]]:
    """Consecutive samples between `start` and `end` further apart than a scrape and a half."""
    inside = [t for t in stamps if start <= t <= end]
    return [(a, b) for a, b in itertools.pairwise(inside) if b - a > 1.5 * SCRAPE_SECONDS]


def _sidecar_restarts(pod: dict[str, Any]) -> int:
    (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "pulse-sidecar"]
    return int(status["restartCount"])


def test_an_outage_and_a_killed_sidecar_lose_nothing_that_was_spooled(scene: Scene) -> None:
    collector = scene.collector()
    # trials every few seconds, so delivery resumes soon after the receiver is back
    collector["spec"]["circuitBreaker"] = {
        "failureThreshold": 2, "openSeconds": 5, "maxOpenSeconds": 10,
    }  # fmt: skip
    scene.apply(collector)
    pod = scene.ready_pod()
    name = pod["metadata"]["name"]
    eventually(lambda: _timestamps_if_any(scene.receiver, name), 60, "the first samples delivered")

    scene.receiver.stop()
    outage_began = time.time()
    eventually(
        lambda: sidecar_status(pod)["sinks"][0]["circuit"] == "open",
        timeout=60,
        what="the breaker to open, as /status reports it",
    )
    eventually(lambda: sidecar_status(pod)["spool"]["samples"] > 0, 30, "samples in the spool")
    time.sleep(OUTAGE_SECONDS / 2 - (time.time() - outage_began))

    # SIGKILL the sidecar container: the kubelet restarts it; its spool is on the emptyDir
    spooled_before_kill = sidecar_status(pod)["spool"]["samples"]
    killed_at = time.time()
    (sidecar,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == "pulse-sidecar"]
    scene.node.ctr(
        "tasks", "kill", "--signal", "SIGKILL", sidecar["containerID"].removeprefix("containerd://")
    )
    restarted = eventually(
        lambda: next(
            (
                p for p in scene.pods()
                if p["metadata"]["name"] == name and _sidecar_restarts(p) == 1
                and all(s["ready"] for s in p["status"]["containerStatuses"])
            ),
            None,
        ),
        timeout=90,
        what="the kubelet to restart the killed sidecar",
    )  # fmt: skip
    spooled_after_restart = sidecar_status(restarted)["spool"]["samples"]
    assert spooled_after_restart >= spooled_before_kill, "the spool lost samples in the kill"

    time.sleep(max(0.0, OUTAGE_SECONDS - (time.time() - outage_began)))
    scene.receiver.start()
    recovered_at = time.time()
    eventually(
        lambda: (
            (s := sidecar_status(restarted))["spool"]["samples"] == 0
            and s["sinks"][0]["circuit"] == "closed"
        ),
        timeout=120,
        what="the spool to drain into the receiver",
    )
    drained_after = time.time() - recovered_at
    stamps = _timestamps(scene.receiver, name)
    # everything scraped before the outage and during it, up to a push before the kill
    # (older samples were spooled by then), arrived: no scrape is missing
    assert _gaps(stamps, stamps[0], killed_at - PUSH_SECONDS - SCRAPE_SECONDS) == []
    assert stamps[0] < outage_began - SCRAPE_SECONDS
    # and everything the restarted sidecar scraped, through the rest of the outage
    restarted_first = min(t for t in stamps if t > killed_at)
    assert _gaps(stamps, restarted_first, time.time()) == []
    assert max(stamps) > recovered_at
    print(
        f"outage {OUTAGE_SECONDS:.0f}s, sidecar killed at +{killed_at - outage_began:.0f}s "
        f"with {spooled_before_kill} samples spooled ({spooled_after_restart} after restart); "
        f"spool drained {drained_after:.1f}s after the receiver came back; "
        f"{len(stamps)} scrapes delivered"
    )


def test_a_changed_scrape_interval_rolls_the_real_pods(scene: Scene) -> None:
    collector = scene.collector()
    scene.apply(collector)
    first = scene.ready_pod()
    collector["spec"]["scrape"]["targets"][0].update({"interval": "2s", "timeout": "2s"})
    scene.apply(collector)

    def rolled() -> dict[str, Any] | None:
        pods = scene.pods()
        names = {p["metadata"]["name"] for p in pods}
        if first["metadata"]["name"] in names:
            return None
        return scene.ready_pod()

    second = eventually(rolled, timeout=120, what="the pods to roll to the new configuration")
    hash_annotation = "pulse.dev/config-hash"
    assert (
        second["metadata"]["annotations"][hash_annotation]
        != first["metadata"]["annotations"][hash_annotation]
    )

    # the new sidecar scrapes every 2 s
    def enough() -> list[float] | None:
        stamps = _timestamps_if_any(scene.receiver, second["metadata"]["name"])
        return stamps if len(stamps) >= 6 else None

    stamps = eventually(enough, timeout=60, what="six scrapes by the new sidecar")
    gaps = [b - a for a, b in itertools.pairwise(stamps[-6:])]
    assert all(1.5 <= gap <= 2.5 for gap in gaps), gaps
