"""Why a collector's pods are not Ready, in the kubelet's and the scheduler's words.

A Deployment's status only counts pods; a user at 3 a.m. needs the pod and the container
that is failing and how (CrashLoopBackOff, ErrImageNeverPull, a readiness probe that fails,
Unschedulable). Pure: the pods in, one short sentence out, stable while nothing changes, so
the status it lands in is not rewritten on every event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_PODS_NAMED = 3
"""Pods described one by one; the rest are counted (a status message stays short)."""


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _container_problem(container: dict[str, Any]) -> str | None:
    """One container's trouble, or None when it is ready."""
    if container.get("ready"):
        return None
    name = container.get("name", "?")
    state = container.get("state", {})
    restarts = int(container.get("restartCount", 0))
    restarted = f", {restarts} restarts" if restarts else ""
    if waiting := state.get("waiting"):
        reason = waiting.get("reason", "Waiting")
        message = waiting.get("message", "")
        return f"{name} {reason}{restarted}" + (f" ({message})" if message else "")
    if terminated := state.get("terminated"):
        reason = terminated.get("reason", "Terminated")
        return f"{name} {reason} (exit code {terminated.get('exitCode', '?')}){restarted}"
    if state.get("running") is not None:
        return f"{name} running but not ready (its readiness probe fails){restarted}"
    return f"{name} not started"


def _pod_problem(pod: dict[str, Any]) -> str | None:
    """One pod's trouble, or None when it is Ready or going away."""
    if pod.get("metadata", {}).get("deletionTimestamp") or (
        _condition(pod, "Ready").get("status") == "True"
    ):
        return None
    status = pod.get("status", {})
    containers = [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]
    problems = [p for c in containers if (p := _container_problem(c)) is not None]
    if not problems:
        scheduled = _condition(pod, "PodScheduled")
        if scheduled.get("status") == "False":
            reason = scheduled.get("reason", "Unschedulable")
            problems.append(f"{reason}: {scheduled.get('message', '')}".strip(": "))
        else:
            problems.append(status.get("phase", "Pending"))
    return f"pod {pod['metadata']['name']}: {'; '.join(problems)}"


def unready_pods(pods: Sequence[dict[str, Any]]) -> str:
    """'pod a: sidecar CrashLoopBackOff, 3 restarts (...)' for the pods that are not Ready,
    in name order; empty when every pod is Ready (or there are none)."""
    problems = [
        p
        for pod in sorted(pods, key=lambda pod: str(pod["metadata"]["name"]))
        if (p := _pod_problem(pod)) is not None
    ]
    shown = problems[:MAX_PODS_NAMED]
    if len(problems) > MAX_PODS_NAMED:
        shown.append(f"and {len(problems) - MAX_PODS_NAMED} more")
    return "; ".join(shown)
