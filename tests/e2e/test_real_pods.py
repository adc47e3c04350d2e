"""A MetricsCollector's pods on a real kubelet: probes really run, the sidecar really scrapes
the demo collector over the pod's localhost and remote-writes to a real Prometheus, and
the containers really run under the `restricted` Pod Security Standard."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pulse_devcluster import node
from tests.e2e.conftest import SIDECAR_PORT, Scene, condition, sidecar_status
from tests.integration.sidecar.sidecar_upstreams import http_get, http_send
from tests.support import eventually

NONROOT_UID = 65532


def _successful_scrapes(sidecar: str) -> int:
    """The sidecar's own count of successful scrapes of its one target."""
    code, body = http_get(f"{sidecar}/metrics")
    assert code == 200, body
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "collector_collections_total"
                and labels.get("result") == "success"
                and labels.get("source", "").startswith("scrape/")
            ):
                return int(sample.value)
    raise AssertionError("no collector_collections_total for the scrape target")


def _container_pid(real_node: node.RealNode, pod: dict[str, Any], container: str) -> int:
    """The host PID of a container's first process, from containerd's own task list."""
    (status,) = [s for s in pod["status"]["containerStatuses"] if s["name"] == container]
    container_id = status["containerID"].removeprefix("containerd://")
    for line in real_node.ctr("tasks", "ls").splitlines()[1:]:
        task, pid, _ = line.split()
        if task == container_id:
            return int(pid)
    raise AssertionError(f"containerd runs no task {container_id} for {container}")


def test_a_collector_becomes_ready_because_its_probes_really_pass(scene: Scene) -> None:
    scene.apply(scene.collector())
    pod = scene.ready_pod()

    assert pod["spec"]["nodeName"] == scene.node.name
    assert pod["status"]["podIP"].startswith(scene.node.pod_subnet.rsplit(".", 2)[0])
    containers = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    assert set(containers) == {"collector", "pulse-sidecar"}
    for name, state in containers.items():
        assert state["ready"], (name, state)
        assert "running" in state["state"], (name, state)
        assert state["restartCount"] == 0, (name, state)
        assert state["containerID"].startswith("containerd://")
    # the kubelet's prober, not a simulator, marked the sidecar ready: it answers from the pod
    for path in ("/health", "/ready"):
        code, body = http_get(f"http://{pod['status']['podIP']}:{SIDECAR_PORT}{path}")
        assert code == 200, (path, body)
    scene.cluster.kubectl(
        "wait", "--for=condition=Ready", "metricscollector/demo", "-n", scene.namespace,
        "--timeout=60s",
    )  # fmt: skip

    # the sidecar scrapes the demo collector over the pod's localhost
    def scraped() -> dict[str, Any] | None:
        status = sidecar_status(pod)
        scrapes = [s for s in status["sources"] if s["type"] == "scrape"]
        return status if scrapes and all(s["up"] for s in scrapes) else None

    status = eventually(scraped, timeout=30, what="the sidecar's scrape of the demo collector")
    assert status["collector"]["pod"] == pod["metadata"]["name"]


def test_scraped_samples_arrive_in_a_real_prometheus_without_a_gap(scene: Scene) -> None:
    scene.apply(scene.collector())
    pod = scene.ready_pod()
    name = pod["metadata"]["name"]

    def six_scrapes() -> list[list[Any]] | None:
        found = scene.receiver.query(f'demo_request_duration_seconds_count{{pod="{name}"}}[10m]')
        return found[0]["values"] if found and len(found[0]["values"]) >= 6 else None

    values = eventually(six_scrapes, timeout=90, what="six scrapes of the demo collector")
    # one sample per scrape, every 5 s as the example says, none missing in between
    stamps = [float(t) for t, _ in values]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert all(4.0 <= gap <= 6.0 for gap in gaps), gaps
    # the demo's own traffic really moved its counters, as the sidecar saw them
    counts = [float(v) for _, v in values]
    assert counts[-1] > counts[0], counts
    # exact: as many samples arrived as the sidecar counts successful scrapes (flushed
    # before and after reading its counter; a scrape may fall between the two)
    sidecar = f"http://{pod['status']['podIP']}:{SIDECAR_PORT}"
    assert http_send(f"{sidecar}/flush", b"")[0] == 200
    scrapes = _successful_scrapes(sidecar)
    assert http_send(f"{sidecar}/flush", b"")[0] == 200
    (series,) = scene.receiver.query(f'demo_request_duration_seconds_count{{pod="{name}"}}[1h]')
    assert scrapes <= len(series["values"]) <= scrapes + 1, (scrapes, len(series["values"]))
    labels = scene.receiver.query(f'demo_requests_total{{pod="{name}",code="200"}}')
    assert labels, "no demo_requests_total{code='200'} series"
    assert labels[0]["metric"]["namespace"] == scene.namespace
    assert labels[0]["metric"]["collector"] == "demo"


def test_the_containers_run_restricted_as_the_operator_renders_them(scene: Scene) -> None:
    """The namespace enforces `restricted`; the processes themselves show what it means."""
    scene.apply(scene.collector())
    pod = scene.ready_pod()
    for container in ("collector", "pulse-sidecar"):
        pid = _container_pid(scene.node, pod, container)
        proc = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        assert proc["Uid"].split()[:2] == [str(NONROOT_UID)] * 2, (container, proc["Uid"])
        assert int(proc["CapEff"].strip(), 16) == 0, (container, proc["CapEff"])
        assert proc["NoNewPrivs"].strip() == "1", container
        assert proc["Seccomp"].strip() == "2", container  # filtered: RuntimeDefault
        root_mount = [
            line.split()
            for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
            if line.split()[4] == "/"
        ]
        assert root_mount, container
        assert "ro" in root_mount[-1][5].split(","), (container, root_mount)
    written = scene.cluster.kubectl(
        "exec", "-n", scene.namespace, pod["metadata"]["name"], "-c", "collector", "--",
        "python3", "-c", "open('/written-by-test', 'w')", check=False,
    )  # fmt: skip
    assert written.returncode != 0
    assert "Read-only file system" in written.stderr


def test_a_failing_liveness_probe_restarts_the_container_and_the_status_says_so(
    scene: Scene,
) -> None:
    collector = scene.collector()
    collector["spec"]["collector"]["livenessProbe"] = {
        "httpGet": {"path": "/no-such-path", "port": "http"},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    scene.apply(collector)

    def restarted() -> dict[str, Any] | None:
        for pod in scene.pods():
            for status in pod["status"].get("containerStatuses", []):
                if status["name"] == "collector" and status["restartCount"] >= 2:
                    return pod
        return None

    eventually(restarted, timeout=120, what="the kubelet restarting the collector container")
    collector_status = eventually(
        lambda: (
            (mc := scene.get("metricscollector", "demo"))
            and "collector" in condition(mc, "Ready")["message"]
            and mc
        ),
        timeout=60,
        what="the MetricsCollector's status to name the failing container",
    )
    ready = condition(collector_status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PodsNotReady"), ready
    deployment = scene.get("deployment", "demo")
    # the operator let the kubelet do its job: one rollout, nothing rewritten in a loop
    assert deployment["metadata"]["generation"] == 1
    scene.operator.ensure_running()


def test_a_failing_readiness_probe_takes_the_pod_out_and_the_status_says_why(scene: Scene) -> None:
    scene.apply(scene.collector())
    pod = scene.ready_pod()
    knobs = f"http://{pod['status']['podIP']}:8080/knobs"
    assert http_send(knobs, json.dumps({"ready": False}).encode())[0] == 200

    def collector_says(status: str, words: str) -> dict[str, Any] | None:
        collector = scene.get("metricscollector", "demo")
        ready = condition(collector, "Ready")
        return ready if ready["status"] == status and words in ready["message"] else None

    ready = eventually(
        lambda: collector_says("False", "collector running but not ready"),
        timeout=60,
        what="the status to say the collector container's readiness probe fails",
    )
    assert ready["reason"] == "PodsNotReady"
    assert pod["metadata"]["name"] in ready["message"]
    pods = scene.pods()
    assert [p["metadata"]["name"] for p in pods] == [pod["metadata"]["name"]]  # no new pod
    assert http_send(knobs, json.dumps({"ready": True}).encode())[0] == 200
    eventually(lambda: collector_says("True", "1/1 pods ready"), 60, "Ready again")
    scene.operator.ensure_running()


def test_a_container_that_never_starts_is_named_with_the_kubelets_reason(scene: Scene) -> None:
    """The pod is unready from its first second, so no Deployment field moves while its
    container goes from ContainerCreating to Error and CrashLoopBackOff: only the
    operator's periodic re-read of unready pods can tell the user."""
    collector = scene.collector()
    collector["spec"]["collector"]["command"] = ["python3", "-c", "raise SystemExit(3)"]
    scene.apply(collector)

    def crash_named() -> str | None:
        conditions = scene.get("metricscollector", "demo").get("status", {}).get("conditions", [])
        message = next((c["message"] for c in conditions if c["type"] == "Ready"), "")
        crashed = "CrashLoopBackOff" in message or "exit code 3" in message
        return message if "collector" in message and crashed else None

    message = eventually(crash_named, timeout=90, what="the status to name the crash")
    assert "ContainerCreating" not in message, message
    scene.operator.ensure_running()
