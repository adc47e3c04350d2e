"""Reconciling a MetricsCollector against the in-memory API server: what is written, what
is reported, and that nothing is written when nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.operator.fake_kube import FakeKube

from pulse_operator.api.objects import Object
from pulse_operator.reconcile.children import ChildEvent
from pulse_operator.reconcile.collector import (
    collector_child_changed,
    reconcile_collector,
    refresh_collector_status,
)
from pulse_operator.reconcile.fights import Corrections
from pulse_operator.settings import OperatorSettings

NS = "shop"
SETTINGS = OperatorSettings()
SPEC: dict[str, Any] = {
    "collector": {"image": "example.com/checkout:1"},
    "sinks": [{"name": "rw", "remoteWrite": {"url": "http://prometheus:9090/api/v1/write"}}],
}
CHILDREN = [
    "ConfigMap/checkout-sidecar",
    "Deployment/checkout",
    "Service/checkout",
    "ServiceMonitor/checkout",
    "PrometheusRule/checkout-alerts",
]


def collector(kube: FakeKube, spec: dict[str, Any] | None = None) -> Object:
    return kube.create(
        {
            "apiVersion": "pulse.dev/v1alpha1",
            "kind": "MetricsCollector",
            "metadata": {"name": "checkout", "namespace": NS},
            "spec": spec if spec is not None else SPEC,
        }
    )


def conditions(obj: Object) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj["status"]["conditions"]}


def current(kube: FakeKube) -> Object:
    obj = kube.get("MetricsCollector", NS, "checkout")
    assert obj is not None
    return obj


def deployment_available(kube: FakeKube, replicas: int = 1) -> None:
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    kube.set_status(
        "Deployment",
        NS,
        "checkout",
        {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
        },
    )


def child_event(
    kube: FakeKube,
    kind: str,
    name: str,
    deleted: bool = False,
    corrections: Corrections | None = None,
) -> Any:
    child = kube.remove(kind, NS, name) if deleted else kube.get(kind, NS, name)
    assert child is not None
    corrections = corrections or Corrections()
    event = ChildEvent(child, deleted, corrections)
    return collector_child_changed(kube, SETTINGS, current(kube), event)


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


def test_a_new_collector_gets_every_child_and_a_status_that_says_it_is_rolling_out(
    kube: FakeKube,
) -> None:
    outcome = reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    assert outcome.applied == CHILDREN
    assert outcome.warnings == []
    status = current(kube)["status"]
    assert status["children"] == CHILDREN
    assert status["sinks"] == 1
    assert status["observedGeneration"] == 1
    found = conditions(current(kube))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "PodsNotReady")
    assert (found["Progressing"]["status"], found["Progressing"]["reason"]) == (
        "True",
        "RollingOut",
    )
    assert (found["Degraded"]["status"], found["Degraded"]["reason"]) == ("False", "AsExpected")
    assert {c["observedGeneration"] for c in found.values()} == {1}
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == current(kube)["metadata"]["uid"]


def test_the_deployment_becoming_available_makes_it_ready_and_only_ready_transitions(
    kube: FakeKube,
) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    before = conditions(current(kube))
    deployment_available(kube)
    kube.requests.clear()
    child_event(kube, "Deployment", "checkout")
    assert kube.requests == ["status MetricsCollector/checkout"]  # no child re-applied
    after = conditions(current(kube))
    assert (after["Ready"]["status"], after["Ready"]["reason"]) == ("True", "Available")
    assert after["Ready"]["message"] == "1/1 pods ready"
    assert current(kube)["status"]["readyReplicas"] == 1
    # Degraded did not change status, so its transition time stays
    assert after["Degraded"]["lastTransitionTime"] == before["Degraded"]["lastTransitionTime"]


def test_nothing_changed_means_nothing_written(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    deployment_available(kube)
    child_event(kube, "Deployment", "checkout")
    kube.requests.clear()
    kube.changes.clear()
    for kind, name in (("ConfigMap", "checkout-sidecar"), ("Deployment", "checkout"),
                       ("Service", "checkout"), ("PrometheusRule", "checkout-alerts")):  # fmt: skip
        child_event(kube, kind, name)
    refresh_collector_status(kube, SETTINGS, current(kube), Corrections())
    assert kube.requests == []
    # a full reconciliation (the operator restarting) applies, but changes nothing
    reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert kube.changes == []
    assert not any(r.startswith(("status", "delete")) for r in kube.requests)


def test_a_child_edited_or_deleted_by_hand_is_restored(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)

    def hand_edit(deployment: Object) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1"

    kube.edit("Deployment", NS, "checkout", hand_edit)
    outcome = child_event(kube, "Deployment", "checkout")
    assert outcome.applied == ["Deployment/checkout"]
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "example.com/checkout:1"
    )
    outcome = child_event(kube, "Service", "checkout", deleted=True)
    assert outcome.applied == ["Service/checkout"]
    assert kube.exists("Service", NS, "checkout")


def test_an_edit_of_what_pulse_does_not_set_is_left_alone(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)

    def annotate(service: Object) -> None:
        service["metadata"]["annotations"] = {"team.example.com/owner": "payments"}

    kube.edit("Service", NS, "checkout", annotate)
    kube.requests.clear()
    assert child_event(kube, "Service", "checkout") is None
    assert kube.requests == []


def test_switching_the_monitor_kind_and_alerting_off_prunes_what_is_no_longer_wanted(
    kube: FakeKube,
) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    spec = {**SPEC, "monitor": {"kind": "PodMonitor"}, "alerting": {"enabled": False}}
    kube.edit("MetricsCollector", NS, "checkout", lambda mc: mc.update(spec=spec))
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert "-ServiceMonitor/checkout" in outcome.applied
    assert "-PrometheusRule/checkout-alerts" in outcome.applied
    assert kube.exists("PodMonitor", NS, "checkout")
    assert not kube.exists("ServiceMonitor", NS, "checkout")
    assert current(kube)["status"]["observedGeneration"] == 2


def test_a_new_collector_is_not_pruned(kube: FakeKube) -> None:
    body = collector(kube)
    reconcile_collector(kube, SETTINGS, body, prune=False)
    assert not any(r.startswith("delete") for r in kube.requests)


def test_a_missing_secret_is_reported_retried_and_then_applied(kube: FakeKube) -> None:
    sink = {**SPEC["sinks"][0], "auth": {"bearerToken": {"name": "rw-token", "key": "token"}}}
    body = collector(kube, {**SPEC, "sinks": [sink]})
    outcome = reconcile_collector(kube, SETTINGS, body, prune=False)
    assert outcome.retry_after == SETTINGS.secret_retry_seconds
    assert outcome.permanent_error is None
    assert outcome.warnings == [("SecretMissing", "Secret(s) rw-token not found in namespace shop")]
    assert not kube.exists("Deployment", NS, "checkout")
    found = conditions(current(kube))
    assert (found["Degraded"]["status"], found["Degraded"]["reason"]) == ("True", "SecretMissing")
    assert "The last applied configuration stays in place." in found["Degraded"]["message"]

    kube.create({"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "rw-token", "namespace": NS}})  # fmt: skip
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=False)
    assert outcome.retry_after is None
    assert outcome.applied == CHILDREN
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    token = {"secretName": "rw-token", "items": [{"key": "token", "path": "token"}]}
    assert {"name": "sink-0-token", "secret": token} in volumes
    assert conditions(current(kube))["Degraded"]["status"] == "False"


def test_an_invalid_spec_is_reported_naming_the_field_and_the_children_stay(
    kube: FakeKube,
) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    bad = {**SPEC, "replicas": -1}
    kube.edit("MetricsCollector", NS, "checkout", lambda mc: mc.update(spec=bad))
    kube.requests.clear()
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert outcome.permanent_error is not None
    assert outcome.permanent_error.startswith("spec.replicas: ")
    assert kube.requests == ["status MetricsCollector/checkout"]
    found = conditions(current(kube))
    assert found["Ready"]["reason"] == "InvalidSpec"
    assert found["Degraded"]["message"].startswith("spec.replicas: ")
    assert "children" not in current(kube)["status"]
    assert kube.exists("Deployment", NS, "checkout")
    # from a bad spec nothing is re-applied, not even a deleted child
    assert child_event(kube, "Service", "checkout", deleted=True) is None


def test_without_prometheus_operator_the_rest_is_applied_and_degraded_says_why(
    kube: FakeKube,
) -> None:
    kube.unserved = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    outcome = reconcile_collector(kube, SETTINGS, collector(kube), prune=True)
    assert outcome.applied == CHILDREN[:3]
    degraded = conditions(current(kube))["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "PrometheusOperatorMissing")
    assert outcome.warnings == [(degraded["reason"], degraded["message"])]
    assert "ServiceMonitor/checkout, PrometheusRule/checkout-alerts" in degraded["message"]
    assert current(kube)["status"]["children"] == CHILDREN[:3]


def _crashing_pod(kube: FakeKube) -> None:
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "checkout-abc",
                "namespace": NS,
                "labels": {"app.kubernetes.io/name": "pulse-collector",
                           "app.kubernetes.io/instance": "checkout"},
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "collector", "ready": False, "restartCount": 3,
                                       "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
            },
        }
    )  # fmt: skip


def test_pods_that_are_not_ready_are_named_in_the_ready_message(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    _crashing_pod(kube)
    refresh_collector_status(kube, SETTINGS, current(kube), Corrections())
    message = conditions(current(kube))["Ready"]["message"]
    assert message == (
        "0/1 pods available, 0 updated; pod checkout-abc: collector CrashLoopBackOff, 3 restarts"
    )


def test_when_pods_may_not_be_listed_the_status_still_counts_them(kube: FakeKube) -> None:
    kube.pods_forbidden = True
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    _crashing_pod(kube)
    refresh_collector_status(kube, SETTINGS, current(kube), Corrections())
    assert conditions(current(kube))["Ready"]["message"] == "0/1 pods available, 0 updated"


def test_a_child_the_api_server_refuses_degrades_and_the_last_good_children_stay(
    kube: FakeKube,
) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    invalid = 'Deployment.apps "checkout" is invalid: spec.template.spec.containers[0].env[0].name'
    kube.refuse["Deployment/checkout"] = invalid
    spec = {**SPEC, "monitor": {"kind": "PodMonitor"}}
    kube.edit("MetricsCollector", NS, "checkout", lambda mc: mc.update(spec=spec))
    kube.requests.clear()
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert kube.requests == [
        "apply ConfigMap/checkout-sidecar",
        "apply Deployment/checkout",
        "status MetricsCollector/checkout",
    ]  # nothing after the refused child, and nothing pruned
    message = f"Deployment/checkout was refused by the API server: {invalid}"
    assert outcome.warnings == [("ChildRejected", message)]
    assert (outcome.retry_after, outcome.backoff) == (SETTINGS.rejected_retry_seconds, True)
    degraded = conditions(current(kube))["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "ChildRejected")
    assert degraded["message"].startswith(message)
    assert kube.exists("ServiceMonitor", NS, "checkout")
    deployment_available(kube)  # a child's event does not hide the refusal
    child_event(kube, "Deployment", "checkout")
    assert conditions(current(kube))["Degraded"]["reason"] == "ChildRejected"

    del kube.refuse["Deployment/checkout"]
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert outcome.warnings == []
    assert kube.exists("PodMonitor", NS, "checkout")
    assert not kube.exists("ServiceMonitor", NS, "checkout")


def test_an_object_of_a_childs_name_that_is_not_pulses_is_never_taken_over(
    kube: FakeKube,
) -> None:
    legacy = {"apiVersion": "v1", "kind": "Service",
              "metadata": {"name": "checkout", "namespace": NS, "labels": {"team": "legacy"}},
              "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80}]}}  # fmt: skip
    kube.create(legacy, manager="legacy-deployer")
    before = kube.get("Service", NS, "checkout")
    outcome = reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    assert kube.get("Service", NS, "checkout") == before  # untouched
    assert "apply Service/checkout" not in kube.requests
    degraded = conditions(current(kube))["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "NameConflict")
    assert degraded["message"].startswith(
        "Service/checkout already exists, managed by legacy-deployer: Pulse does not take over"
    )
    assert outcome.warnings[0][0] == "NameConflict"
    assert outcome.backoff

    kube.remove("Service", NS, "checkout")  # the other team moves it away
    outcome = reconcile_collector(kube, SETTINGS, current(kube), prune=False)
    assert outcome.warnings == []
    service = kube.get("Service", NS, "checkout")
    assert service is not None
    assert service["metadata"]["ownerReferences"][0]["name"] == "checkout"


def test_children_the_status_lists_are_not_looked_up_again(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    looked_up: list[str] = []
    original = kube.metadata

    def counting(kind_name: str, namespace: str, name: str) -> Any:
        looked_up.append(f"{kind_name}/{name}")
        return original(kind_name, namespace, name)

    kube.metadata = counting  # type: ignore[method-assign]
    reconcile_collector(kube, SETTINGS, current(kube), prune=True)
    assert looked_up == []


def test_a_removed_owner_reference_or_managed_by_label_is_restored(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    kube.edit("Service", NS, "checkout", lambda svc: svc["metadata"].pop("ownerReferences"))
    assert child_event(kube, "Service", "checkout").applied == ["Service/checkout"]
    service = kube.get("Service", NS, "checkout")
    assert service is not None
    assert service["metadata"]["ownerReferences"][0]["uid"] == current(kube)["metadata"]["uid"]

    def strip_label(obj: Object) -> None:
        del obj["metadata"]["labels"]["app.kubernetes.io/managed-by"]

    kube.edit("Deployment", NS, "checkout", strip_label)
    assert child_event(kube, "Deployment", "checkout").applied == ["Deployment/checkout"]
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulse-operator"


def test_pods_the_replicaset_cannot_create_are_degraded_with_its_reason(kube: FakeKube) -> None:
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)
    failure = 'pods "checkout-5d8" is forbidden: exceeded quota: pods'
    kube.set_status("Deployment", NS, "checkout", {
        "observedGeneration": 1, "replicas": 0,
        "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                        "message": failure}]})  # fmt: skip
    child_event(kube, "Deployment", "checkout")
    found = conditions(current(kube))
    assert (found["Ready"]["reason"], found["Degraded"]["reason"]) == (
        "FailedCreate",
        "FailedCreate",
    )
    assert found["Degraded"]["status"] == "True"
    assert found["Degraded"]["message"].endswith(f"the ReplicaSet cannot create pods: {failure}")


def test_with_external_autoscaling_replicas_are_the_autoscalers(kube: FakeKube) -> None:
    reconcile_collector(
        kube, SETTINGS, collector(kube, {**SPEC, "autoscaling": {"external": True}})
    )
    deployment = kube.get("Deployment", NS, "checkout")
    assert deployment is not None
    assert "replicas" not in deployment["spec"]
    kube.edit("Deployment", NS, "checkout", lambda d: d["spec"].update(replicas=4),
              manager="horizontal-pod-autoscaler")  # fmt: skip
    kube.requests.clear()
    child_event(kube, "Deployment", "checkout")
    assert not any(r.startswith("apply") for r in kube.requests)
    scaled = kube.get("Deployment", NS, "checkout")
    assert scaled is not None
    assert scaled["spec"]["replicas"] == 4


def test_a_writer_that_keeps_changing_a_child_back_is_reported_and_left_alone(
    kube: FakeKube,
) -> None:
    now = [1000.0]
    corrections = Corrections(clock=lambda: now[0])
    reconcile_collector(kube, SETTINGS, collector(kube), prune=False)

    def other_image(deployment: Object) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "theirs:2"

    outcomes = []
    for _ in range(6):  # the other writer sets it back every 5 s
        kube.edit("Deployment", NS, "checkout", other_image, manager="gitops-agent")
        outcomes.append(child_event(kube, "Deployment", "checkout", corrections=corrections))
        now[0] += 5
    restored = [o.applied for o in outcomes]
    assert restored == [["Deployment/checkout"]] * 3 + [[]] * 3  # then Pulse backs off
    reason, message = outcomes[2].warnings[0]
    assert reason == "WriteConflict"
    assert message.startswith(
        "Deployment/checkout: spec.template.spec.containers[0].image is changed back by "
        "'gitops-agent' again and again; Pulse stopped restoring it for 120 s."
    )
    assert [o.warnings for o in outcomes[3:]] == [[]] * 3  # one Warning event per fight
    degraded = conditions(current(kube))["Degraded"]
    assert (degraded["status"], degraded["reason"], degraded["message"]) == (
        "True", "WriteConflict", message,
    )  # fmt: skip

    now[0] += 120  # the pause is over: Pulse restores again
    kube.edit("Deployment", NS, "checkout", other_image, manager="gitops-agent")
    assert child_event(kube, "Deployment", "checkout", corrections=corrections).applied == [
        "Deployment/checkout"
    ]
    assert conditions(current(kube))["Degraded"]["reason"] == "AsExpected"
