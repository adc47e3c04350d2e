"""Every pod Pulse produces passes the `restricted` Pod Security Standard, as the real API
server's PodSecurity admission enforces it: the operator's own pod (every chart variant)
and the pods of every Deployment the operator renders for the examples (both containers).

Pods are created with a server-side dry run: admission runs in full, nothing is stored.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Iterator

import pulse_chart
import pytest
from install_testing import OPERATOR, REPO, Api, ApiError, Object, path, unique
from tests.unit.chart.chart_variants import VARIANTS

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@pytest.fixture(scope="module")
def restricted_namespace(api: Api) -> Iterator[str]:
    name = unique("restricted")
    api.create_namespace(name, RESTRICTED)
    try:
        yield name
    finally:
        api.delete("Namespace", None, name)


def _pod(template: Object, namespace: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "psa-", "namespace": namespace, **template["metadata"]},
        "spec": copy.deepcopy(template["spec"]),
    }


def _admit(api: Api, pod: Object) -> None:
    """Creates the pod with dryRun=All; raises ApiError when admission refuses it."""
    namespace = pod["metadata"]["namespace"]
    api.request("POST", f"{path('Pod', namespace)}?dryRun=All", pod)


def _ensure_service_account(api: Api, namespace: str, name: str) -> None:
    """Admission looks the pod's ServiceAccount up; the chart's is made here."""
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        }
    )


def _operator_rendered_deployments() -> list[Object]:
    result = subprocess.run(
        [str(OPERATOR), "render", "-f", str(REPO / "examples" / "collectors"), "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    items: list[Object] = json.loads(result.stdout)["items"]
    return [item for item in items if item["kind"] == "Deployment"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_operators_pod_is_admitted(api: Api, restricted_namespace: str, variant: str) -> None:
    (deployment,) = [d.obj for d in pulse_chart.render(VARIANTS[variant]) if d.kind == "Deployment"]
    template = deployment["spec"]["template"]
    _ensure_service_account(api, restricted_namespace, template["spec"]["serviceAccountName"])
    _admit(api, _pod(template, restricted_namespace))


DEPLOYMENTS = _operator_rendered_deployments()


@pytest.mark.parametrize(
    "deployment", DEPLOYMENTS, ids=[d["metadata"]["name"] for d in DEPLOYMENTS]
)
def test_every_collector_pod_the_operator_renders_is_admitted(
    api: Api, restricted_namespace: str, deployment: Object
) -> None:
    template = deployment["spec"]["template"]
    containers = [c["name"] for c in template["spec"]["containers"]]
    assert containers == ["collector", "pulse-sidecar"]
    _admit(api, _pod(template, restricted_namespace))


def _first_container(spec: Object) -> Object:
    """The first container's security context."""
    context: Object = spec["containers"][0]["securityContext"]
    return context


WEAKENED: dict[str, Callable[[Object], None]] = {
    "runAsUser=0": lambda spec: spec["securityContext"].update(runAsUser=0),
    "allowPrivilegeEscalation != false": lambda spec: _first_container(spec).update(
        allowPrivilegeEscalation=True
    ),
    "unrestricted capabilities": lambda spec: _first_container(spec).update(
        capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}
    ),
    "seccompProfile": lambda spec: spec["securityContext"].update(
        seccompProfile={"type": "Unconfined"}
    ),
}


@pytest.mark.parametrize("reason", WEAKENED)
def test_the_namespace_does_refuse_a_pod_that_is_not_restricted(
    api: Api, restricted_namespace: str, reason: str
) -> None:
    """The admissions above can fail: the same namespace refuses a weakened copy, and
    says why."""
    template = copy.deepcopy(DEPLOYMENTS[0]["spec"]["template"])
    WEAKENED[reason](template["spec"])
    with pytest.raises(ApiError) as refused:
        _admit(api, _pod(template, restricted_namespace))
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert reason in message
