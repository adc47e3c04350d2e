"""The invalid-input suite against the real API server, with the operator running.

Every case is created for real (no dry run) in one namespace. A case refused at admission
must name its field in the API server's answer; a case only the operator can judge must be
admitted, then report Degraded and a Warning Event naming the field, and get no child.
Either way `pulse-operator render` must name the same field, and the operator's log must
hold no traceback.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from pulse_devcluster.processes import ManagedProcess
from tests.invalid_input import InvalidInput, invalid_inputs, named_fields, names, render_problems
from tests.support import eventually

CASES = invalid_inputs()


@dataclass
class Applied:
    """What creating the cases did: the namespace and each case's refusal, if any."""

    namespace: str
    refusals: dict[str, ApiException]
    log_offset: int


@pytest.fixture(scope="module")
def applied(
    api_client: kubernetes.client.ApiClient, pulse_operator: ManagedProcess
) -> Iterator[Applied]:
    core = kubernetes.client.CoreV1Api(api_client)
    custom = kubernetes.client.CustomObjectsApi(api_client)
    namespace = f"invalid-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace}})
    log_offset = pulse_operator.log_path.stat().st_size
    refusals: dict[str, ApiException] = {}
    for case in CASES:
        group, version = case.document["apiVersion"].split("/")
        try:
            custom.create_namespaced_custom_object(
                group, version, namespace, case.plural, case.manifest(),
                field_validation="Strict",  # what kubectl does: unknown fields are errors
            )  # fmt: skip
        except ApiException as refused:
            refusals[case.id] = refused
    try:
        yield Applied(namespace, refusals, log_offset)
    finally:
        core.delete_namespace(namespace)


def _fields_in_refusal(refused: ApiException) -> list[str]:
    """The fields the API server names: each cause's field, or the strict decoder's."""
    status = json.loads(refused.body)
    causes = (status.get("details") or {}).get("causes") or []
    return [cause.get("field", "") for cause in causes] + [status.get("message", "")]


def _object(api_client: kubernetes.client.ApiClient, case: InvalidInput, ns: str) -> Any:
    group, version = case.document["apiVersion"].split("/")
    return kubernetes.client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        group, version, ns, case.plural, case.name
    )


def _condition(body: Any, kind: str) -> dict[str, Any]:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def _warnings(api_client: kubernetes.client.ApiClient, case: InvalidInput, ns: str) -> list[str]:
    events = kubernetes.client.CoreV1Api(api_client).list_namespaced_event(ns).items
    return [
        str(e.message)
        for e in events
        if e.type == "Warning"
        and e.involved_object.name == case.name
        and e.involved_object.kind == case.document["kind"]
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_case_is_refused_naming_its_field_in_the_cluster_and_by_render(
    case: InvalidInput,
    applied: Applied,
    api_client: kubernetes.client.ApiClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    offline = render_problems(case, tmp_path, capsys)
    assert names(case.field, named_fields(offline)), offline
    refused = applied.refusals.get(case.id)
    if case.refused_at == "admission":
        assert refused is not None, "admitted"
        assert refused.status in (400, 422), refused.body  # 400: strict decoding
        named = _fields_in_refusal(refused)
        assert any(field == case.field or case.field in field for field in named), named
        if case.says:
            assert case.says in str(refused.body)
        return
    assert refused is None, refused.body

    def degraded() -> Any:
        body = _object(api_client, case, applied.namespace)
        return body if _condition(body, "Degraded").get("status") == "True" else None

    body = eventually(degraded, what="Degraded=True", timeout=60)
    message = _condition(body, "Degraded")["message"]
    assert f"{case.field}: " in message, message
    assert _condition(body, "Ready")["status"] == "False"
    assert not (body.get("status") or {}).get("children"), "a child was applied"
    warnings = eventually(
        lambda: _warnings(api_client, case, applied.namespace), what="a Warning Event"
    )
    assert any(case.field in warning for warning in warnings), warnings
    if case.says:
        assert case.says in message
        assert case.says in offline


def test_no_case_put_a_traceback_in_the_operators_log(
    applied: Applied, pulse_operator: ManagedProcess, api_client: kubernetes.client.ApiClient
) -> None:
    operator_cases = [case for case in CASES if case.refused_at == "operator"]
    for case in operator_cases:  # every answer is in, so the log is complete
        eventually(
            lambda case=case: _condition(_object(api_client, case, applied.namespace), "Degraded"),
            what=f"{case.id} reported",
            timeout=60,
        )
    with pulse_operator.log_path.open("rb") as log:
        log.seek(applied.log_offset)
        lines = log.read().decode(errors="replace").splitlines()
    assert lines, "the operator logged nothing about the cases"
    problems = [line for line in lines if "Traceback" in line or "failed with an exception" in line]
    assert not problems, problems[:3]
