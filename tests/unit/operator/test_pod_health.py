"""Why pods are not Ready, from pod statuses as the kubelet and the scheduler write them."""

from __future__ import annotations

from typing import Any

from pulse_operator.pod_health import unready_pods


def pod(
    name: str, *containers: dict[str, Any], ready: bool = False, **extra: Any
) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    conditions += extra.pop("conditions", [])
    return {
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "status": {"phase": "Running", "conditions": conditions,
                   "containerStatuses": list(containers), **extra},
    }  # fmt: skip


def container(name: str, ready: bool, state: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": ready, "state": state, "restartCount": restarts}


RUNNING = {"running": {"startedAt": "2026-12-02T00:00:00Z"}}


def test_ready_pods_and_pods_going_away_need_no_explanation() -> None:
    assert unready_pods([]) == ""
    assert unready_pods([pod("a", container("c", True, RUNNING), ready=True)]) == ""
    deleting = pod("b", container("c", False, RUNNING), metadata={"deletionTimestamp": "now"})
    assert unready_pods([deleting]) == ""


def test_a_failing_readiness_probe_names_the_container() -> None:
    pods = [pod("demo-1", container("collector", True, RUNNING),
                container("pulse-sidecar", False, RUNNING))]  # fmt: skip
    assert unready_pods(pods) == (
        "pod demo-1: pulse-sidecar running but not ready (its readiness probe fails)"
    )


def test_crash_loops_and_missing_images_say_the_kubelet_reason_and_restarts() -> None:
    crashing = container(
        "pulse-sidecar", False,
        {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting"}}, 3,
    )  # fmt: skip
    image = container("collector", False, {"waiting": {"reason": "ErrImageNeverPull"}})
    assert unready_pods([pod("demo-1", image, crashing)]) == (
        "pod demo-1: collector ErrImageNeverPull; "
        "pulse-sidecar CrashLoopBackOff, 3 restarts (back-off 10s restarting)"
    )


def test_a_terminated_container_gives_its_exit_code() -> None:
    done = container("collector", False, {"terminated": {"reason": "Error", "exitCode": 2}}, 1)
    assert unready_pods([pod("p", done)]) == "pod p: collector Error (exit code 2), 1 restarts"


def test_an_unschedulable_pod_gives_the_scheduler_message() -> None:
    pending = pod(
        "demo-2",
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": "0/2 nodes are available"}],
        phase="Pending",
    )  # fmt: skip
    assert unready_pods([pending]) == "pod demo-2: Unschedulable: 0/2 nodes are available"
    assert unready_pods([pod("demo-3", phase="Pending")]) == "pod demo-3: Pending"


def test_pods_come_in_name_order_and_past_three_are_counted() -> None:
    pods = [pod(f"p{i}", phase="Pending") for i in (5, 1, 4, 2, 3)]
    assert unready_pods(pods) == "pod p1: Pending; pod p2: Pending; pod p3: Pending; and 2 more"
