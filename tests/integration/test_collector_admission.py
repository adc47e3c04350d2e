"""The real API server refuses invalid MetricsCollectors, naming the field (schema + CEL)."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from tests.collector_cases import INVALID_COLLECTORS, VALID_SPEC, InvalidCase


def _create(api_client: kubernetes.client.ApiClient, namespace: str, spec: dict[str, Any]) -> Any:
    return kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "pulse.dev",
        "v1alpha1",
        namespace,
        "metricscollectors",
        {"apiVersion": "pulse.dev/v1alpha1", "kind": "MetricsCollector",
         "metadata": {"name": "candidate"}, "spec": spec},
        field_validation="Strict",  # what kubectl does: unknown fields are errors
        dry_run="All",
    )  # fmt: skip


def test_the_base_spec_of_the_cases_is_admitted(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    created = _create(api_client, namespace, VALID_SPEC)
    assert created["spec"]["collector"]["image"] == "example.com/app:1"


@pytest.mark.parametrize("case", INVALID_COLLECTORS, ids=lambda case: case.id)
def test_an_invalid_spec_is_refused_at_admission_naming_the_field(
    api_client: kubernetes.client.ApiClient, namespace: str, case: InvalidCase
) -> None:
    with pytest.raises(ApiException) as raised:
        _create(api_client, namespace, case.spec())
    assert raised.value.status in (400, 422), raised.value.body  # 400: strict decoding
    body = str(raised.value.body)
    assert case.field in body, body
    assert case.api_message in body, body
