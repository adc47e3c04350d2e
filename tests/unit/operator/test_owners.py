"""The owner a handler acts on is the one that exists now, not an older copy."""

from __future__ import annotations

from tests.unit.operator.fake_kube import FakeKube

from pulse_operator.reconcile.owners import OWNERS, claimed_by, current_owner


def _slo(kube: FakeKube) -> str:
    metadata = {"name": "api", "namespace": "shop"}
    created = kube.create({"apiVersion": "pulse.dev/v1alpha1", "kind": "SLO", "metadata": metadata})
    uid: str = created["metadata"]["uid"]
    return uid


def test_both_kinds_are_reconciled() -> None:
    assert sorted(OWNERS) == ["MetricsCollector", "SLO"]


def test_the_current_owner_is_read_back_by_uid() -> None:
    kube = FakeKube()
    uid = _slo(kube)
    found = current_owner(kube, "SLO", "shop", "api", uid)
    assert found is not None
    assert found["metadata"]["uid"] == uid


def test_a_deleted_replaced_or_terminating_owner_is_none() -> None:
    kube = FakeKube()
    assert current_owner(kube, "SLO", "shop", "api", "no-such-uid") is None
    old = _slo(kube)
    kube.remove("SLO", "shop", "api")
    _slo(kube)  # a namesake with a new uid
    assert current_owner(kube, "SLO", "shop", "api", old) is None
    new = kube.get("SLO", "shop", "api")
    assert new is not None
    terminating = {"deletionTimestamp": "2026-01-01T00:00:00Z"}
    kube.edit("SLO", "shop", "api", lambda obj: obj["metadata"].update(terminating))
    assert current_owner(kube, "SLO", "shop", "api", new["metadata"]["uid"]) is None


def test_a_child_is_claimed_by_its_controller_reference_or_else_by_its_labels() -> None:
    labels = {"app.kubernetes.io/name": "pulse-collector", "app.kubernetes.io/instance": "web",
              "app.kubernetes.io/managed-by": "pulse-operator"}  # fmt: skip
    reference = {"apiVersion": "pulse.dev/v1alpha1", "kind": "MetricsCollector", "name": "web",
                 "uid": "u1", "controller": True}  # fmt: skip
    by_reference = claimed_by({"metadata": {"labels": labels, "ownerReferences": [reference]}})
    assert [(c.reconciler.kind.kind, c.name, c.uid) for c in by_reference] == [
        ("MetricsCollector", "web", "u1")
    ]
    by_labels = claimed_by({"metadata": {"labels": labels}})
    assert [(c.reconciler.kind.kind, c.name, c.uid) for c in by_labels] == [
        ("MetricsCollector", "web", None)
    ]
    foreign = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "u2",
               "controller": True}  # fmt: skip
    assert claimed_by({"metadata": {"ownerReferences": [foreign]}}) == []
    assert claimed_by({"metadata": {"labels": {"app.kubernetes.io/instance": "web"}}}) == []
