"""Pulse renders resource quantities in the form the real API server stores them, so a
collector written with '0.5' or '1024Mi' is not mistaken for drift on every event."""

from __future__ import annotations

import kubernetes

from pulse_operator.api.common import canonical_quantity

WRITTEN = ["0.5", "1000m", "0.5Gi", "1024Mi", "100m", "1.5", "2000", "0.5Ki", "1536Mi",
           "1.5Gi", "1000", "0.1", "100Ki", "1000Ki", "1", "64Mi", "0.25", "3k", "2Ti"]  # fmt: skip


def test_canonical_quantities_are_what_the_api_server_stores(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    containers = [
        {"name": f"c{i}", "image": "example.com/app:1", "resources": {"limits": {"memory": value}}}
        for i, value in enumerate(WRITTEN)
    ]
    pod = {"metadata": {"name": "quantities"}, "spec": {"containers": containers}}
    stored = kubernetes.client.CoreV1Api(api_client).create_namespaced_pod(
        namespace, pod, dry_run="All"
    )
    assert {c.name: c.resources.limits["memory"] for c in stored.spec.containers} == {
        f"c{i}": canonical_quantity(value) for i, value in enumerate(WRITTEN)
    }
