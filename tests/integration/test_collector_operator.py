"""The operator, running as `pulse-operator run`, reconciles MetricsCollectors for real."""

from __future__ import annotations

import functools
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException
from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("pulse_operator")

GROUP, VERSION, PLURAL = "pulse.dev", "v1alpha1", "metricscollectors"
CHILD_LABELS = {
    "app.kubernetes.io/name": "pulse-collector",
    "app.kubernetes.io/managed-by": "pulse-operator",
    "app.kubernetes.io/part-of": "pulse",
}


def _collector(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "MetricsCollector",
        "metadata": {"name": name},
        "spec": {"collector": {"image": "example.com/app:1"}, **spec},
    }


class Cluster:
    """The handful of API calls these tests make."""

    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.apps = kubernetes.client.AppsV1Api(api_client)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body
        )
        return created

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return found

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": spec}
        )

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        for condition in self.get(name).get("status", {}).get("conditions", []):
            if condition["type"] == kind:
                return dict(condition)
        return {}

    def events(self, name: str) -> list[Any]:
        return [
            e
            for e in self.core.list_namespaced_event(self.namespace).items
            if e.involved_object.name == name and e.involved_object.kind == "MetricsCollector"
        ]

    def exists(self, read: Any, name: str) -> bool:
        try:
            read(name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True


@pytest.fixture
def k8s(api_client: kubernetes.client.ApiClient, namespace: str) -> Cluster:
    return Cluster(api_client, namespace)


def _ready(k8s: Cluster, name: str) -> bool:
    return k8s.condition(name, "Ready").get("status") == "True"


def test_a_collector_gets_every_child_labelled_and_owned_and_becomes_ready(k8s: Cluster) -> None:
    owner = k8s.create(_collector("web", replicas=2, monitor={"kind": "ServiceMonitor"}))
    eventually(lambda: _ready(k8s, "web"), what="Ready=True")

    status = k8s.get("web")["status"]
    assert status["observedGeneration"] == owner["metadata"]["generation"]
    assert status["readyReplicas"] == 2
    assert sorted(status["children"]) == [
        "ConfigMap/web-sidecar",
        "Deployment/web",
        "PrometheusRule/web-alerts",
        "Service/web",
        "ServiceMonitor/web",
    ]
    deployment = k8s.apps.read_namespaced_deployment("web", k8s.namespace)
    for obj in (
        deployment,
        k8s.core.read_namespaced_service("web", k8s.namespace),
        k8s.core.read_namespaced_config_map("web-sidecar", k8s.namespace),
    ):
        assert (
            obj.metadata.labels.items()
            >= {**CHILD_LABELS, "app.kubernetes.io/instance": "web"}.items()
        )
        (reference,) = obj.metadata.owner_references
        assert (reference.kind, reference.uid, reference.controller) == (
            "MetricsCollector", owner["metadata"]["uid"], True,
        )  # fmt: skip
    containers = {c.name: c for c in deployment.spec.template.spec.containers}
    assert containers["pulse-sidecar"].liveness_probe.http_get.path == "/health"
    assert containers["pulse-sidecar"].readiness_probe.http_get.path == "/ready"
    assert containers["collector"].resources.requests == {"cpu": "250m", "memory": "256Mi"}
    assert containers["collector"].resources.limits == {"cpu": "500m", "memory": "512Mi"}
    assert any(e.reason == "Applied" and e.type == "Normal" for e in k8s.events("web"))


def test_a_child_deleted_or_edited_by_hand_is_restored(k8s: Cluster) -> None:
    k8s.create(_collector("drift"))
    eventually(lambda: _ready(k8s, "drift"), what="Ready=True")

    k8s.core.delete_namespaced_service("drift", k8s.namespace)
    eventually(
        lambda: k8s.exists(k8s.core.read_namespaced_service, "drift"),
        timeout=15,
        what="the deleted Service to come back",
    )
    k8s.apps.patch_namespaced_deployment_scale("drift", k8s.namespace, {"spec": {"replicas": 3}})
    eventually(
        lambda: k8s.apps.read_namespaced_deployment("drift", k8s.namespace).spec.replicas == 1,
        timeout=15,
        what="the hand-scaled Deployment to go back to 1 replica",
    )
    assert any(e.reason == "DriftCorrected" for e in k8s.events("drift"))


def test_a_configuration_change_rolls_the_pods(k8s: Cluster) -> None:
    k8s.create(_collector("roll"))
    eventually(lambda: _ready(k8s, "roll"), what="Ready=True")
    before = k8s.apps.read_namespaced_deployment("roll", k8s.namespace)
    old_hash = before.spec.template.metadata.annotations["pulse.dev/config-hash"]

    k8s.patch_spec("roll", {"ingest": {"rateLimitPerMinute": 50}})

    def rolled() -> bool:
        after = k8s.apps.read_namespaced_deployment("roll", k8s.namespace)
        return after.spec.template.metadata.annotations["pulse.dev/config-hash"] != old_hash

    eventually(rolled, what="a new config hash on the pod template")
    config = k8s.core.read_namespaced_config_map("roll-sidecar", k8s.namespace)
    assert "rate_limit_per_minute: 50" in config.data["sidecar.yaml"]


def test_switching_the_monitor_kind_prunes_only_the_collectors_own_monitor(k8s: Cluster) -> None:
    for name in ("switch", "bystander"):
        k8s.create(_collector(name, monitor={"kind": "ServiceMonitor"}))
    for name in ("switch", "bystander"):
        eventually(lambda name=name: _ready(k8s, name), what=f"{name} Ready=True")

    def monitors(plural: str) -> set[str]:
        listed = k8s.custom.list_namespaced_custom_object(
            "monitoring.coreos.com", "v1", k8s.namespace, plural
        )
        return {item["metadata"]["name"] for item in listed["items"]}

    assert monitors("servicemonitors") == {"switch", "bystander"}
    k8s.patch_spec("switch", {"monitor": {"kind": "PodMonitor"}})
    eventually(
        lambda: (
            monitors("servicemonitors") == {"bystander"} and monitors("podmonitors") == {"switch"}
        ),
        what="the ServiceMonitor of switch pruned and its PodMonitor applied",
    )
    assert "PrometheusRule/bystander-alerts" in k8s.get("bystander")["status"]["children"]


def test_deleting_the_collector_removes_its_children(k8s: Cluster) -> None:
    k8s.create(_collector("gone"))
    eventually(lambda: _ready(k8s, "gone"), what="Ready=True")
    k8s.custom.delete_namespaced_custom_object(GROUP, VERSION, k8s.namespace, PLURAL, "gone")
    eventually(
        lambda: (
            not k8s.exists(k8s.apps.read_namespaced_deployment, "gone")
            and not k8s.exists(k8s.core.read_namespaced_config_map, "gone-sidecar")
        ),
        what="the garbage collector to remove the children",
    )


def test_a_missing_secret_degrades_without_touching_children_until_it_appears(
    k8s: Cluster,
) -> None:
    k8s.create(_collector("keys", ingest={"apiKeysSecret": "ingest-keys"}))
    eventually(
        lambda: k8s.condition("keys", "Degraded").get("reason") == "SecretMissing",
        what="Degraded=SecretMissing",
    )
    assert "ingest-keys" in k8s.condition("keys", "Degraded")["message"]
    assert not k8s.exists(k8s.apps.read_namespaced_deployment, "keys")
    assert any(e.type == "Warning" and e.reason == "SecretMissing" for e in k8s.events("keys"))

    k8s.core.create_namespaced_secret(
        k8s.namespace, {"metadata": {"name": "ingest-keys"}, "stringData": {"a": "key-a"}}
    )
    eventually(lambda: _ready(k8s, "keys"), timeout=60, what="Ready=True after the retry")


def test_a_mistake_only_the_operator_can_judge_degrades_and_keeps_the_last_good_children(
    k8s: Cluster,
) -> None:
    sink = {"name": "rw", "remoteWrite": {"url": "http://prometheus:9090/api/v1/write"}}
    k8s.create(_collector("keep", sinks=[sink], alerting={"labels": {"team": "payments"}}))
    eventually(lambda: _ready(k8s, "keep"), what="Ready=True")
    good = k8s.core.read_namespaced_config_map("keep-sidecar", k8s.namespace).data
    rules = kubernetes.client.CustomObjectsApi(k8s.core.api_client)
    read_rule = functools.partial(
        rules.get_namespaced_custom_object,
        "monitoring.coreos.com", "v1", k8s.namespace, "prometheusrules", "keep-alerts",
    )  # fmt: skip
    good_rule = read_rule()["spec"]

    # admitted (CEL cannot parse Go templates); Prometheus would refuse the rule file
    k8s.patch_spec("keep", {"alerting": {"labels": {"team": "{{ $labels.team"}}, "replicas": 2})
    eventually(
        lambda: k8s.condition("keep", "Degraded").get("status") == "True",
        what="Degraded=True",
    )
    degraded = k8s.condition("keep", "Degraded")
    assert degraded["reason"] == "InvalidSpec"
    assert degraded["message"].startswith("spec.alerting.labels[team]: not a template"), degraded
    assert degraded["observedGeneration"] == k8s.get("keep")["metadata"]["generation"]
    assert k8s.core.read_namespaced_config_map("keep-sidecar", k8s.namespace).data == good
    assert read_rule()["spec"] == good_rule
    assert k8s.apps.read_namespaced_deployment("keep", k8s.namespace).spec.replicas == 1


def test_with_nothing_changing_the_operator_writes_nothing(
    k8s: Cluster, cluster: LocalCluster, pulse_operator: ManagedProcess
) -> None:
    for name in ("idle-a", "idle-b"):
        k8s.create(_collector(name, monitor={"kind": "PodMonitor"}))
    eventually(lambda: _ready(k8s, "idle-a") and _ready(k8s, "idle-b"), what="Ready=True")
    time.sleep(3)  # let the last status write and the audit batch land

    def writes() -> list[dict[str, Any]]:
        # other tests' namespaces are torn down meanwhile; count this namespace's only
        return [
            w
            for w in cluster.writes_by(("pulse-operator", "kopf"))
            if w.get("objectRef", {}).get("namespace") == k8s.namespace
        ]

    before = writes()
    time.sleep(20)
    after = writes()
    assert after == before, f"writes while idle: {after[len(before) :]}"
    pulse_operator.ensure_running()


def test_a_spec_larger_than_the_annotation_limit_is_handled_once(
    k8s: Cluster, cluster: LocalCluster
) -> None:
    # about 768 KiB of spec, three times what all annotations of an object may hold
    collector = {
        "image": "example.com/app:1",
        "args": ["a" * 2048] * 128,
        "env": [{"name": f"V{i}", "value": "v" * 4096} for i in range(128)],
    }
    k8s.create(_collector("large", collector=collector))
    eventually(lambda: _ready(k8s, "large"), what="Ready=True", timeout=60)
    recorded = k8s.get("large")["metadata"]["annotations"]["pulse.dev/last-handled-configuration"]
    assert len(recorded) < 100, recorded  # a digest, not the spec
    time.sleep(3)  # let the last status write and the audit batch land

    def writes() -> int:
        return sum(
            1
            for w in cluster.writes_by(("pulse-operator", "kopf"))
            if w.get("objectRef", {}).get("namespace") == k8s.namespace
        )

    before = writes()
    time.sleep(10)
    assert writes() == before, "the operator keeps handling the large spec"
    pod = k8s.apps.read_namespaced_deployment("large", k8s.namespace).spec.template.spec
    assert pod.containers[0].args == collector["args"]


def test_the_operator_serves_its_own_metrics(k8s: Cluster, operator_metrics_url: str) -> None:
    k8s.create(_collector("counted"))
    eventually(lambda: _ready(k8s, "counted"), what="Ready=True")
    with urllib.request.urlopen(operator_metrics_url, timeout=5) as response:
        text = response.read().decode()
    ok = 'pulse_operator_reconciles_total{kind="MetricsCollector",result="ok",trigger="spec"}'
    assert any(line.startswith(ok) and float(line.split()[-1]) >= 1 for line in text.splitlines())
    assert "pulse_operator_reconcile_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text
    checked = subprocess.run(
        [str(paths.binary("promtool")), "check", "metrics"],
        input=text, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


@pytest.fixture
def services_need_a_team(api_client: kubernetes.client.ApiClient, namespace: str) -> Iterator[str]:
    """A cluster policy, as Kyverno or Gatekeeper would set one, that refuses Services
    without a team label in the test's namespace: a refusal only the API server knows of."""
    admission = kubernetes.client.AdmissionregistrationV1Api(api_client)
    name = f"services-need-a-team-{namespace}"
    admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["services"],
            }]},
            "validations": [{
                "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                "message": "every Service needs a team label",
            }],
        },
    })  # fmt: skip
    admission.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": namespace}
            }},
        },
    })  # fmt: skip
    try:
        yield "every Service needs a team label"
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def test_a_child_the_api_server_refuses_is_reported_without_a_traceback(
    k8s: Cluster, pulse_operator: ManagedProcess, services_need_a_team: str
) -> None:
    def refused() -> bool:  # the policy takes effect within a second or two
        probe = {"metadata": {"name": "probe"}, "spec": {"ports": [{"port": 80}]}}
        try:
            k8s.core.create_namespaced_service(k8s.namespace, probe, dry_run="All")
        except ApiException as error:
            return services_need_a_team in str(error.body)
        return False

    eventually(refused, what="the policy in force")
    k8s.create(_collector("web"))
    eventually(
        lambda: k8s.condition("web", "Degraded").get("reason") == "ChildRejected",
        what="Degraded=ChildRejected",
    )
    degraded = k8s.condition("web", "Degraded")
    assert degraded["status"] == "True"
    assert degraded["message"].startswith("Service/web was refused by the API server: ")
    assert services_need_a_team in degraded["message"]
    assert k8s.condition("web", "Ready")["reason"] == "ChildRejected"
    warnings = eventually(
        lambda: [e for e in k8s.events("web") if e.reason == "ChildRejected"],
        what="a ChildRejected Warning event",
    )
    assert warnings[0].type == "Warning"
    assert k8s.exists(k8s.apps.read_namespaced_deployment, "web")  # applied before it
    log = pulse_operator.log_path.read_text(errors="replace")
    ours = [line for line in log.splitlines() if k8s.namespace in line and "web" in line]
    assert ours, "the operator logged nothing about the refusal"
    assert not any("Traceback" in line for line in ours), ours


def test_objects_of_a_childs_name_that_another_team_has_are_never_taken_over(
    k8s: Cluster,
) -> None:
    service = {"metadata": {"name": "legacy", "labels": {"team": "legacy"}},
               "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80}]}}  # fmt: skip
    k8s.core.create_namespaced_service(k8s.namespace, service)
    k8s.core.create_namespaced_config_map(
        k8s.namespace, {"metadata": {"name": "legacy-sidecar"}, "data": {"a": "b"}}
    )
    before = k8s.core.read_namespaced_service("legacy", k8s.namespace).metadata.resource_version
    k8s.create(_collector("legacy"))
    eventually(
        lambda: k8s.condition("legacy", "Degraded").get("reason") == "NameConflict",
        what="Degraded=NameConflict",
    )
    message = k8s.condition("legacy", "Degraded")["message"]
    assert message.startswith("ConfigMap/legacy-sidecar already exists, managed by ")
    config_map = k8s.core.read_namespaced_config_map("legacy-sidecar", k8s.namespace)
    assert config_map.metadata.owner_references is None
    assert config_map.data == {"a": "b"}
    legacy = k8s.core.read_namespaced_service("legacy", k8s.namespace)
    assert legacy.metadata.resource_version == before
    assert legacy.spec.selector == {"app": "legacy"}

    k8s.custom.delete_namespaced_custom_object(GROUP, VERSION, k8s.namespace, PLURAL, "legacy")
    eventually(lambda: not k8s.exists(_read_collector(k8s), "legacy"), what="collector gone")
    time.sleep(2)  # garbage collection would have acted by now
    assert k8s.exists(k8s.core.read_namespaced_service, "legacy")
    assert k8s.exists(k8s.core.read_namespaced_config_map, "legacy-sidecar")


def _read_collector(k8s: Cluster) -> Any:
    def read(name: str, namespace: str) -> Any:
        return k8s.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    return read


def test_hand_edits_that_would_hide_a_child_from_the_operator_are_undone(k8s: Cluster) -> None:
    k8s.create(_collector("blind"))
    eventually(lambda: k8s.exists(k8s.core.read_namespaced_service, "blind"), what="Service")
    k8s.core.patch_namespaced_service(
        "blind", k8s.namespace, [{"op": "remove", "path": "/metadata/ownerReferences"}]
    )
    eventually(
        lambda: k8s.core.read_namespaced_service("blind", k8s.namespace).metadata.owner_references,
        what="the Service's ownerReference restored",
    )
    eventually(lambda: k8s.exists(k8s.apps.read_namespaced_deployment, "blind"), what="Deployment")
    label = "/metadata/labels/app.kubernetes.io~1managed-by"
    k8s.apps.patch_namespaced_deployment("blind", k8s.namespace, [{"op": "remove", "path": label}])
    k8s.apps.patch_namespaced_deployment(
        "blind",
        k8s.namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "collector", "image": "x:2"}]}}}},
    )

    def restored() -> bool:
        deployment = k8s.apps.read_namespaced_deployment("blind", k8s.namespace)
        image = deployment.spec.template.spec.containers[0].image
        managed = deployment.metadata.labels.get("app.kubernetes.io/managed-by")
        return image == "example.com/app:1" and managed == "pulse-operator"

    eventually(restored, what="the label and the image restored")


def _problems_in_log(process: ManagedProcess, needle: str) -> list[str]:
    log = process.log_path.read_text(errors="replace").splitlines()
    return [
        line
        for line in log
        if needle in line and ("Traceback" in line or "failed with an exception" in line)
    ]


def test_a_collector_deleted_and_created_again_under_its_name_converges_quietly(
    k8s: Cluster, pulse_operator: ManagedProcess
) -> None:
    k8s.create(_collector("again"))
    eventually(lambda: _ready(k8s, "again"), what="Ready=True")
    k8s.custom.delete_namespaced_custom_object(GROUP, VERSION, k8s.namespace, PLURAL, "again")
    eventually(lambda: not k8s.exists(_read_collector(k8s), "again"), what="collector gone")
    created = k8s.create(_collector("again"))
    eventually(lambda: _ready(k8s, "again"), what="Ready=True again")
    service = k8s.core.read_namespaced_service("again", k8s.namespace)
    assert service.metadata.owner_references[0].uid == created["metadata"]["uid"]
    assert _problems_in_log(pulse_operator, k8s.namespace) == []


def test_deleting_a_namespace_with_collectors_in_it_is_quiet(
    api_client: kubernetes.client.ApiClient, pulse_operator: ManagedProcess
) -> None:
    namespace = f"doomed-{int(time.time() * 1000) % 100000}"
    k8s = Cluster(api_client, namespace)
    k8s.core.create_namespace({"metadata": {"name": namespace}})
    names = [f"c{i}" for i in range(5)]
    for name in names:
        k8s.create(_collector(name))
    for name in names:
        eventually(lambda name=name: _ready(k8s, name), what=f"{name} Ready=True")
    k8s.core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            k8s.core.read_namespace(namespace)
        except ApiException as error:
            return error.status == 404
        return False

    eventually(gone, timeout=90, what="the namespace deleted")
    time.sleep(2)  # the last watch events have been handled
    assert _problems_in_log(pulse_operator, namespace) == []


def test_a_writer_that_keeps_setting_the_image_back_meets_a_few_writes_and_a_warning(
    k8s: Cluster, cluster: LocalCluster
) -> None:
    k8s.create(_collector("fought"))
    eventually(lambda: _ready(k8s, "fought"), what="Ready=True")
    theirs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fought", "namespace": k8s.namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "collector", "image": "x:2"}]}}},
    }

    def deployment_writes() -> int:
        return sum(
            1
            for w in cluster.writes_by("pulse-operator")
            if w.get("objectRef", {}).get("namespace") == k8s.namespace
            and w.get("objectRef", {}).get("resource") == "deployments"
            and w.get("objectRef", {}).get("subresource") is None
        )

    before = deployment_writes()
    for _ in range(20):  # another field manager force-applies the image, every second
        k8s.apps.patch_namespaced_deployment(
            "fought",
            k8s.namespace,
            theirs,
            field_manager="rival-deployer",
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        time.sleep(1)
    time.sleep(2)  # the audit batch lands
    pulse_writes = deployment_writes() - before
    assert 1 <= pulse_writes <= 4, f"{pulse_writes} writes by Pulse in a 20 s fight"
    degraded = k8s.condition("fought", "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "WriteConflict")
    assert "'rival-deployer'" in degraded["message"]
    assert "spec.template.spec.containers[0].image" in degraded["message"]
    assert [e.reason for e in k8s.events("fought") if e.type == "Warning"] == ["WriteConflict"]
