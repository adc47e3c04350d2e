"""kopf's record of the last handled spec is a digest: any admitted spec fits in it."""

from __future__ import annotations

from typing import Any

import kopf

from pulse_operator.handlers import DigestDiffBaseStorage


def _storage() -> DigestDiffBaseStorage:
    progress = kopf.AnnotationsProgressStorage(prefix="pulse.dev")
    return DigestDiffBaseStorage(progress, prefix="pulse.dev", key="last-handled-configuration")


def _body(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "pulse.dev/v1alpha1",
            "kind": "MetricsCollector",
            "metadata": {"name": "web", "namespace": "shop", "annotations": annotations or {}},
            "spec": spec,
            "status": {"conditions": []},
        }
    )


def test_the_digest_changes_with_the_spec_and_not_with_kopfs_progress_or_the_status() -> None:
    storage = _storage()
    spec = {"collector": {"image": "example.com/app:1"}}
    before = storage.build(body=_body(spec))
    assert storage.build(body=_body({**spec, "replicas": 2})) != before
    busy = _body(spec, {"pulse.dev/reconcile-metricscollectors": '{"retries": 3}'})
    assert storage.build(body=busy) == before
    assert storage.build(body=_body(spec, {"team": "payments"})) != before


def test_what_kopf_stores_for_a_spec_of_a_megabyte_is_under_100_bytes() -> None:
    storage = _storage()
    body = _body({"collector": {"image": "example.com/app:1", "args": ["x" * 1_000_000]}})
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    stored = patch["metadata"]["annotations"]["pulse.dev/last-handled-configuration"]
    assert len(stored) < 100
    assert storage.fetch(body=_body({}, {"pulse.dev/last-handled-configuration": stored})) == (
        storage.build(body=body)
    )
