"""Every permission the chart grants is needed.

The chart's ClusterRole is cut into (API group, resource, verb) permissions. With all of
them, every behaviour below works within its time window. With any one removed, the
operator (run as the chart runs it, with a ServiceAccount holding the rest) is refused
exactly that request, and the behaviour named for that permission does not happen
within the same window.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulse_chart
import pytest
from install_testing import (
    Api,
    Object,
    OperatorRun,
    Release,
    audit_events,
    chart_container,
    load_yaml,
    running_operator,
    service_account_user,
    token_kubeconfig,
    unique,
)
from pulse_devcluster.cluster import LocalCluster
from tests.support import eventually

Permission = tuple[str, str, str]
"""(API group, resource, verb)."""

SLO_EXAMPLE = pulse_chart.REPO_ROOT / "examples" / "slos" / "checkout-availability.yaml"
HANDLED_ANNOTATION = "pulse.dev/last-handled-configuration"


def chart_permissions() -> list[Permission]:
    """What the chart's ClusterRole grants, one permission per (group, resource, verb)."""
    (role,) = [d.obj for d in pulse_chart.render() if d.kind == "ClusterRole"]
    return sorted(
        {
            (group, resource, verb)
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
    )


def rules_without(permission: Permission | None) -> list[Object]:
    """The chart's permissions minus one, as RBAC rules."""
    by_resource: dict[tuple[str, str], list[str]] = {}
    for group, resource, verb in chart_permissions():
        if (group, resource, verb) != permission:
            by_resource.setdefault((group, resource), []).append(verb)
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": verbs}
        for (group, resource), verbs in by_resource.items()
    ]


# -- the scene a behaviour plays in ------------------------------------------------------


@dataclass
class Scene:
    """One fresh namespace, the admin's API, and what a behaviour noted on the way."""

    api: Api
    namespace: str
    noted: dict[str, Any] = field(default_factory=dict)

    def start_collector(self, monitor: str = "ServiceMonitor", name: str = "probe") -> None:
        self.api.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "probe-keys", "namespace": self.namespace},
                "stringData": {"demo": "probe-key"},
            }
        )
        self.api.apply(
            {
                "apiVersion": "pulse.dev/v1alpha1",
                "kind": "MetricsCollector",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {
                    "collector": {"image": "probe-app:1"},
                    "ingest": {"enabled": True, "apiKeysSecret": "probe-keys"},
                    "monitor": {"kind": monitor},
                },
            }
        )

    def start_slo(self) -> None:
        (slo,) = load_yaml(SLO_EXAMPLE)
        slo["metadata"]["namespace"] = self.namespace
        self.api.apply(slo)

    def exists(self, kind: str, name: str) -> bool:
        return self.api.get(kind, self.namespace, name) is not None

    def collector_children(self, monitor: str = "ServiceMonitor") -> bool:
        return all(
            self.exists(kind, name)
            for kind, name in [
                ("ConfigMap", "probe-sidecar"),
                ("Deployment", "probe"),
                ("Service", "probe"),
                (monitor, "probe"),
                ("PrometheusRule", "probe-alerts"),
            ]
        )

    def ready(self, kind: str, name: str) -> bool:
        return self.api.condition(kind, self.namespace, name, "Ready") == "True"

    def await_(self, check: Callable[[], bool], what: str) -> None:
        """A precondition of the behaviour: what the permission under test is not needed
        for. Fails the test if it does not come (the behaviour is then mis-assigned)."""
        eventually(check, timeout=60, what=f"precondition: {what}")


@dataclass(frozen=True)
class Behaviour:
    """Something the operator does, in a sentence; how to set it off; how to see it done."""

    sentence: str
    start: Callable[[Scene], None]
    done: Callable[[Scene], bool]
    window: float = 3.0
    """Seconds within which it happens with every permission (the baseline test checks)."""


def _collector_reconciled(monitor: str) -> Behaviour:
    return Behaviour(
        f"a new MetricsCollector (with a {monitor}) gets its children and becomes Ready",
        lambda s: s.start_collector(monitor),
        lambda s: s.collector_children(monitor) and s.ready("MetricsCollector", "probe"),
        window=4.0,
    )


COLLECTOR_RECONCILED = _collector_reconciled("ServiceMonitor")
POD_MONITOR_COLLECTOR_RECONCILED = _collector_reconciled("PodMonitor")
SLO_RECONCILED = Behaviour(
    "a new SLO gets its PrometheusRule and becomes Ready",
    Scene.start_slo,
    lambda s: (
        s.exists("PrometheusRule", "checkout-availability-slo")
        and s.ready("SLO", "checkout-availability")
    ),
)


def _handled_recorded(kind: str, name: str, start: Callable[[Scene], None]) -> Behaviour:
    def done(scene: Scene) -> bool:
        obj = scene.api.get(kind, scene.namespace, name) or {}
        return HANDLED_ANNOTATION in obj.get("metadata", {}).get("annotations", {})

    return Behaviour(
        f"kopf records a handled {kind}, so a restart does not handle it again",
        start,
        done,
    )


def _restored(kind: str, name: str, *, monitor: str = "ServiceMonitor") -> Behaviour:
    def start(scene: Scene) -> None:
        scene.start_collector(monitor)
        scene.await_(lambda: scene.exists(kind, name), f"{kind}/{name} created")
        before = scene.api.get(kind, scene.namespace, name)
        assert before is not None
        scene.noted["uid"] = before["metadata"]["uid"]
        scene.api.delete(kind, scene.namespace, name)

    def done(scene: Scene) -> bool:
        now = scene.api.get(kind, scene.namespace, name)
        return now is not None and now["metadata"]["uid"] != scene.noted["uid"]

    return Behaviour(f"a {kind} deleted by hand is restored", start, done)


def _monitor_switch_prunes(old: str, new: str) -> Behaviour:
    def start(scene: Scene) -> None:
        scene.start_collector(old)
        scene.await_(lambda: scene.collector_children(old), "the collector's children")
        scene.api.patch(
            "MetricsCollector", scene.namespace, "probe", {"spec": {"monitor": {"kind": new}}}
        )

    return Behaviour(
        f"switching a collector from {old} to {new} deletes the {old}",
        start,
        lambda s: s.exists(new, "probe") and not s.exists(old, "probe"),
    )


def _alerting_off_prunes(scene: Scene) -> None:
    scene.start_collector()
    scene.await_(scene.collector_children, "the collector's children")
    scene.api.patch(
        "MetricsCollector", scene.namespace, "probe", {"spec": {"alerting": {"enabled": False}}}
    )


RULE_PRUNED = Behaviour(
    "turning a collector's alerting off deletes its PrometheusRule",
    _alerting_off_prunes,
    lambda s: not s.exists("PrometheusRule", "probe-alerts"),
)


def _applied_event(scene: Scene) -> bool:
    return any(
        event["involvedObject"].get("name") == "probe" and event.get("reason") == "Applied"
        for event in scene.api.list("Event", scene.namespace)
    )


EVENTS_POSTED = Behaviour(
    "what the operator applied is reported as an Event", Scene.start_collector, _applied_event
)


def _unschedulable_collector(scene: Scene) -> None:
    scene.api.apply(
        {
            "apiVersion": "pulse.dev/v1alpha1",
            "kind": "MetricsCollector",
            "metadata": {"name": "stuck", "namespace": scene.namespace},
            "spec": {
                "collector": {"image": "probe-app:1"},
                "nodeSelector": {"pulse.dev/no-such-node": "true"},
            },
        }
    )


def _names_the_pod(scene: Scene) -> bool:
    obj = scene.api.get("MetricsCollector", scene.namespace, "stuck") or {}
    ready = [c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
    return bool(ready) and "pod stuck-" in ready[0].get("message", "")


POD_PROBLEM_REPORTED = Behaviour(
    "a collector whose pod is not Ready says which pod and why",
    _unschedulable_collector,
    _names_the_pod,
    window=15.0,  # a Deployment event, or the pods-not-ready timer (10 s) after it
)


def _add_reader(scene: Scene, kind: str, **spec: Any) -> None:
    """A Prometheus or ThanosRuler (its selectors only: nothing runs it) in the scene. With
    no namespace selector it selects in its own namespace only, so no other scene's
    reader (their namespaces are deleted in the background) selects this scene's SLO."""
    scene.api.apply(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": kind,
            "metadata": {"name": "reader", "namespace": scene.namespace},
            "spec": spec,
        }
    )


def _slo_selected(scene: Scene) -> bool:
    return (
        scene.api.condition("SLO", scene.namespace, "checkout-availability", "Selected") == "True"
    )


def _selected_by(kind: str) -> Behaviour:
    def start(scene: Scene) -> None:
        _add_reader(scene, kind, ruleSelector={})
        scene.start_slo()

    return Behaviour(f"an SLO whose rule a {kind} selects says Selected=True", start,
                     _slo_selected, window=5.0)  # fmt: skip


def _new_reader_seen(kind: str) -> Behaviour:
    def start(scene: Scene) -> None:
        scene.start_slo()
        scene.await_(
            lambda: scene.api.condition(
                "SLO", scene.namespace, "checkout-availability", "Selected") == "False",
            "Selected=False before any reader selects it",
        )  # fmt: skip
        _add_reader(scene, kind, ruleSelector={})

    return Behaviour(f"a new {kind} that selects an SLO's rule is seen at once", start,
                     _slo_selected, window=5.0)  # fmt: skip


def _selected_by_namespace_label(scene: Scene) -> None:
    label = {"rules-for": scene.namespace}  # unique: no other scene's namespace matches
    scene.api.patch("Namespace", None, scene.namespace, {"metadata": {"labels": label}})
    _add_reader(scene, "Prometheus", ruleSelector={}, ruleNamespaceSelector={"matchLabels": label})
    scene.start_slo()


NAMESPACE_SELECTED = Behaviour(
    "a Prometheus whose namespace selector matches the SLO's namespace selects its rule",
    _selected_by_namespace_label,
    _slo_selected,
    window=5.0,
)

NEEDED: dict[Permission, Behaviour] = {
    # Every reconciliation reads its owner afresh (kopf's copy may be older).
    ("pulse.dev", "metricscollectors", "get"): COLLECTOR_RECONCILED,
    ("pulse.dev", "metricscollectors", "list"): COLLECTOR_RECONCILED,
    ("pulse.dev", "metricscollectors", "watch"): COLLECTOR_RECONCILED,
    ("pulse.dev", "metricscollectors", "patch"): _handled_recorded(
        "MetricsCollector", "probe", Scene.start_collector
    ),
    ("pulse.dev", "metricscollectors/status", "patch"): COLLECTOR_RECONCILED,
    ("pulse.dev", "slos", "get"): SLO_RECONCILED,
    ("pulse.dev", "slos", "list"): SLO_RECONCILED,
    ("pulse.dev", "slos", "watch"): SLO_RECONCILED,
    ("pulse.dev", "slos", "patch"): _handled_recorded(
        "SLO", "checkout-availability", Scene.start_slo
    ),
    ("pulse.dev", "slos/status", "patch"): SLO_RECONCILED,
    ("", "configmaps", "list"): _restored("ConfigMap", "probe-sidecar"),
    ("", "configmaps", "watch"): _restored("ConfigMap", "probe-sidecar"),
    # Before creating a child, its name is checked: Pulse never takes an object over.
    ("", "configmaps", "get"): COLLECTOR_RECONCILED,
    ("", "configmaps", "create"): COLLECTOR_RECONCILED,
    ("", "configmaps", "patch"): COLLECTOR_RECONCILED,
    ("", "services", "list"): _restored("Service", "probe"),
    ("", "services", "watch"): _restored("Service", "probe"),
    ("", "services", "get"): COLLECTOR_RECONCILED,
    ("", "services", "create"): COLLECTOR_RECONCILED,
    ("", "services", "patch"): COLLECTOR_RECONCILED,
    ("apps", "deployments", "get"): COLLECTOR_RECONCILED,
    # Ready follows the Deployment's rollout, seen through the watch.
    ("apps", "deployments", "list"): COLLECTOR_RECONCILED,
    ("apps", "deployments", "watch"): COLLECTOR_RECONCILED,
    ("apps", "deployments", "create"): COLLECTOR_RECONCILED,
    ("apps", "deployments", "patch"): COLLECTOR_RECONCILED,
    # kopf lists before it watches; the operator also lists owned objects to prune.
    ("monitoring.coreos.com", "servicemonitors", "list"): _restored("ServiceMonitor", "probe"),
    ("monitoring.coreos.com", "servicemonitors", "watch"): _restored("ServiceMonitor", "probe"),
    ("monitoring.coreos.com", "servicemonitors", "get"): COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "servicemonitors", "create"): COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "servicemonitors", "patch"): COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "servicemonitors", "delete"): _monitor_switch_prunes(
        "ServiceMonitor", "PodMonitor"
    ),
    ("monitoring.coreos.com", "podmonitors", "list"): _restored(
        "PodMonitor", "probe", monitor="PodMonitor"
    ),
    ("monitoring.coreos.com", "podmonitors", "watch"): _restored(
        "PodMonitor", "probe", monitor="PodMonitor"
    ),
    ("monitoring.coreos.com", "podmonitors", "get"): POD_MONITOR_COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "podmonitors", "create"): POD_MONITOR_COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "podmonitors", "patch"): POD_MONITOR_COLLECTOR_RECONCILED,
    ("monitoring.coreos.com", "podmonitors", "delete"): _monitor_switch_prunes(
        "PodMonitor", "ServiceMonitor"
    ),
    ("monitoring.coreos.com", "prometheusrules", "list"): _restored(
        "PrometheusRule", "probe-alerts"
    ),
    ("monitoring.coreos.com", "prometheusrules", "watch"): _restored(
        "PrometheusRule", "probe-alerts"
    ),
    ("monitoring.coreos.com", "prometheusrules", "get"): SLO_RECONCILED,
    ("monitoring.coreos.com", "prometheusrules", "create"): SLO_RECONCILED,
    ("monitoring.coreos.com", "prometheusrules", "patch"): SLO_RECONCILED,
    ("monitoring.coreos.com", "prometheusrules", "delete"): RULE_PRUNED,
    ("", "pods", "list"): POD_PROBLEM_REPORTED,
    ("", "secrets", "get"): COLLECTOR_RECONCILED,
    ("", "events", "create"): EVENTS_POSTED,
    # Selected: Prometheus and ThanosRuler objects listed, and watched for their selectors.
    ("monitoring.coreos.com", "prometheuses", "list"): _selected_by("Prometheus"),
    ("monitoring.coreos.com", "prometheuses", "watch"): _new_reader_seen("Prometheus"),
    ("monitoring.coreos.com", "thanosrulers", "list"): _selected_by("ThanosRuler"),
    ("monitoring.coreos.com", "thanosrulers", "watch"): _new_reader_seen("ThanosRuler"),
    ("", "namespaces", "get"): NAMESPACE_SELECTED,
}


def _id(permission: Permission) -> str:
    group, resource, verb = permission
    return f"{verb} {group or 'core'}/{resource}"


# -- running the operator with a chosen set of permissions ---------------------------------


@contextmanager
def operator_with(
    cluster: LocalCluster, api: Api, container: Object, rules: list[Object], tmp: Path
) -> Iterator[OperatorRun]:
    """The operator, as the chart runs it, with a fresh ServiceAccount holding `rules`
    cluster-wide; everything is removed again on exit."""
    name = unique("pulse-rbac")
    namespace = f"{name}-system"
    api.create_namespace(namespace)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding"}
    try:
        api.apply(
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": name, "namespace": namespace}}
        )  # fmt: skip
        api.apply({**role, "metadata": {"name": name}, "rules": rules})
        api.apply(
            {
                **binding,
                "metadata": {"name": name},
                "roleRef": {"apiGroup": role["apiVersion"].split("/")[0], "kind": role["kind"],
                            "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            }
        )  # fmt: skip
        kubeconfig = token_kubeconfig(cluster, namespace, name, tmp / f"{name}.kubeconfig")
        user = service_account_user(namespace, name)
        with running_operator(cluster, kubeconfig, user, container, name=name) as run:
            yield run
    finally:
        api.delete("ClusterRoleBinding", None, name)
        api.delete("ClusterRole", None, name)
        api.delete("Namespace", None, namespace)


def refused(cluster: LocalCluster, run: OperatorRun, permission: Permission) -> bool:
    """Whether the API server refused this operator exactly this permission: reads show in
    its log (kopf's watch errors, the handler's exception), writes in the audit log."""
    group, resource, verb = permission
    wanted = f'cannot {verb} resource "{resource}" in API group "{group}"'
    if any(wanted in message for message in run.log_messages()):
        return True
    return any(
        wanted in str(event.get("responseStatus", {}).get("message", ""))
        for event in audit_events(cluster, run.user, run.audit_offset)
    )


@pytest.fixture(scope="module")
def container(chart_release: Release) -> Object:
    """The operator container as the installed chart's Deployment defines it."""
    return chart_container(chart_release.deployment())


@pytest.fixture
def scene(api: Api, test_namespace: str) -> Scene:
    return Scene(api, test_namespace)


def test_every_granted_permission_is_claimed_by_a_behaviour() -> None:
    """A rule added to the chart needs a behaviour here that shows it is needed."""
    assert set(chart_permissions()) == set(NEEDED)


def test_with_every_permission_every_behaviour_happens_within_its_window(
    install_cluster: LocalCluster, api: Api, container: Object, tmp_path: Path
) -> None:
    behaviours = {b.sentence: b for b in NEEDED.values()}
    with operator_with(install_cluster, api, container, rules_without(None), tmp_path):
        for sentence, behaviour in sorted(behaviours.items()):
            namespace = unique("ns")
            api.create_namespace(namespace)
            try:
                scene = Scene(api, namespace)
                behaviour.start(scene)
                eventually(functools.partial(behaviour.done, scene), behaviour.window, sentence)
            finally:
                api.delete("Namespace", None, namespace)


@pytest.mark.parametrize("permission", sorted(NEEDED), ids=_id)
def test_without_one_permission_its_behaviour_does_not_happen(
    install_cluster: LocalCluster,
    api: Api,
    container: Object,
    scene: Scene,
    tmp_path: Path,
    permission: Permission,
) -> None:
    behaviour = NEEDED[permission]
    rules = rules_without(permission)
    with operator_with(install_cluster, api, container, rules, tmp_path) as run:

        def refusal() -> None:
            eventually(
                lambda: refused(install_cluster, run, permission),
                what=f"a refusal of {permission}",
            )

        if permission[2] == "watch":
            # kopf lists before it watches: an object made before that listing is handled
            # as a resumed one, whatever the watch. The refused watch shows the list is done.
            refusal()
        behaviour.start(scene)
        started = time.monotonic()
        refusal()
        # Keep looking for the whole window (what the baseline allows), and at least a
        # little after the refusal.
        deadline = max(started + behaviour.window, time.monotonic() + 2.0)
        while time.monotonic() < deadline:
            assert not behaviour.done(scene), f"{behaviour.sentence}, without {permission}"
            time.sleep(0.25)
