"""The local control plane behaves like a real cluster: GC, scheduling, readiness, CRDs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException
from pulse_devcluster.cluster import LocalCluster
from tests.support import eventually


def test_apiserver_answers_readyz_through_kubectl(cluster: LocalCluster) -> None:
    assert cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    assert "v1.36" in cluster.kubectl("version", "-o", "json").stdout


def test_garbage_collector_removes_the_child_of_a_deleted_custom_resource(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)

    def established() -> bool:
        crd = extensions.read_custom_resource_definition("widgets.harness.pulse.dev")
        return any(
            c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])
        )

    eventually(established, what="the Widget CRD to be established")
    custom = kubernetes.client.CustomObjectsApi(api_client)
    owner = custom.create_namespaced_custom_object(
        "harness.pulse.dev",
        "v1",
        namespace,
        "widgets",
        {
            "apiVersion": "harness.pulse.dev/v1",
            "kind": "Widget",
            "metadata": {"name": "owner"},
            "spec": {"size": 3},
        },
    )
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "child",
                "ownerReferences": [
                    {
                        "apiVersion": "harness.pulse.dev/v1",
                        "kind": "Widget",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "data": {"k": "v"},
        },
    )
    custom.delete_namespaced_custom_object("harness.pulse.dev", "v1", namespace, "widgets", "owner")

    def child_gone() -> bool:
        try:
            core.read_namespaced_config_map("child", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    eventually(child_gone, what="the garbage collector to delete the child ConfigMap")


def test_crd_schema_rejects_invalid_custom_resource(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    custom = kubernetes.client.CustomObjectsApi(api_client)
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(
            "monitoring.coreos.com",
            "v1",
            namespace,
            "prometheusrules",
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {"name": "bad"},
                "spec": {"groups": [{"rules": []}]},
            },
        )
    assert caught.value.status == 422
    assert "spec.groups[0].name" in caught.value.body


def test_deployment_pods_are_scheduled_on_a_fake_node_and_become_available(
    api_client: kubernetes.client.ApiClient, namespace: str
) -> None:
    apps = kubernetes.client.AppsV1Api(api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "example.invalid/web:1",
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}},
                            }
                        ]
                    },
                },
            },
        },
    )

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        return status.available_replicas == 2

    eventually(available, what="the Deployment to report 2 available replicas")
    pods = kubernetes.client.CoreV1Api(api_client).list_namespaced_pod(namespace).items
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name.startswith("pulse-node-")
        assert pod.status.phase == "Running"
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready["Ready"] == "True"


def test_stopping_leaves_no_process_kubeconfig_or_directory_behind(tmp_path: Any) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    cluster = LocalCluster(crd_files=[], kubeconfig_path=kubeconfig)
    with cluster:
        pids = cluster.pids
        log_dir = cluster.log_dir
        assert kubeconfig.exists()
        assert len(pids) == 5
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not kubeconfig.exists()
    assert not log_dir.exists()


def test_killing_the_harness_with_sigkill_takes_every_component_down(tmp_path: Any) -> None:
    script = (
        "import sys\n"
        "from pulse_devcluster.cluster import LocalCluster\n"
        "cluster = LocalCluster(crd_files=[])\n"
        "cluster.start()\n"
        "print(cluster.log_dir.parent, *cluster.pids, flush=True)\n"
        "sys.stdin.read()\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert harness.stdout is not None
        work_dir, *pid_words = harness.stdout.readline().split()
        pids = [int(pid) for pid in pid_words]
        assert len(pids) == 5
    finally:
        harness.kill()
        harness.wait()

    def all_gone() -> bool:
        return all(not _alive(pid) for pid in pids)

    eventually(all_gone, timeout=15, what="the orphaned components to exit")
    assert Path(work_dir).is_dir()
    LocalCluster(crd_files=[]).remove_abandoned_work_dirs()
    assert not Path(work_dir).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # an exited child of init is reaped quickly; a zombie still counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"
