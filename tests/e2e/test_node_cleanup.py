"""A real node leaves the host as it found it: after a normal stop, and after its harness
was killed with SIGKILL (the next start cleans up from the record it left).

Each case runs a harness of its own (a control plane and a node on pod network 10.245.N.0/24)
in a subprocess, beside the session's node, and compares the host before and after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from pulse_devcluster import host, node, paths
from pulse_devcluster.cluster import ClusterError, LocalCluster
from tests.support import eventually

REPO = Path(__file__).resolve().parents[2]
# A pod that the real node runs: nothing but the pause image.
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "held", "namespace": "default"},
    "spec": {
        "nodeSelector": {node.NODE_KIND_LABEL: "real"},
        "tolerations": [{"key": node.TAINT_KEY, "operator": "Exists"}],
        "containers": [{"name": "c", "image": node.PAUSE_IMAGE}],
    },
}
# Starts a cluster and a node, runs the pod (argv[2]) on it, says so, then stops on a line
# of input (or dies where it stands when killed).
HARNESS = textwrap.dedent(
    """
    import sys
    from pulse_devcluster.cluster import LocalCluster
    from pulse_devcluster.node import RealNode
    from pulse_devcluster.paths import IMAGES_DIR
    pause = [IMAGES_DIR / "pulse-pause.tar"]  # all this pod needs: a quick import
    with LocalCluster(crd_files=[]) as cluster, RealNode(cluster, pause, network=int(sys.argv[1])):
        cluster.kubectl("apply", "-f", "-", input=sys.argv[2])
        cluster.kubectl("wait", "--for=condition=Ready", "pod/held", "--timeout=60s")
        print("running", flush=True)
        sys.stdin.readline()
    print("stopped", flush=True)
    """
)


def _start_harness(network: int) -> subprocess.Popen[str]:
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(network), json.dumps(POD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "hack")},
    )
    assert harness.stdout is not None
    assert harness.stdout.readline().strip() == "running"
    return harness


def _ours(snapshot: dict[str, list[str]]) -> dict[str, set[str]]:
    """The snapshot without what belongs to nodes of this test process (the session's
    node, whose pods come and go while these tests run): a harness must neither leave
    anything nor take anything away, whatever the session node does meanwhile."""
    mine = [
        host.HostChanges.load(d)
        for d in Path("/tmp").glob("pulse-node-*")
        if (d / "owner.pid").exists() and (d / "owner.pid").read_text() == str(os.getpid())
    ]
    markers = [m for c in mine for m in (c.bridge, c.cgroup, str(c.work_dir)) if m]
    return {
        key: {item for item in items if not any(marker in item for marker in markers)}
        for key, items in snapshot.items()
    }


def _assert_node_was_there(before: dict[str, list[str]]) -> None:
    """The pod really ran: a bridge and a veth, mounts and a work directory appeared."""
    was, now = _ours(before), _ours(host.snapshot())
    assert len(now["links"] - was["links"]) >= 2, now["links"]
    assert now["work_dirs"] - was["work_dirs"]
    assert now["mounts"] - was["mounts"]


def test_a_stopped_node_leaves_nothing_behind() -> None:
    node.RealNode.remove_abandoned()  # what an earlier failed run left, not this one
    before = host.snapshot()
    harness = _start_harness(network=2)
    try:
        _assert_node_was_there(before)
        stdout, _ = harness.communicate("stop\n", timeout=120)
    finally:
        harness.kill()
    assert (harness.returncode, stdout.strip()) == (0, "stopped")
    assert _ours(host.snapshot()) == _ours(before)


def test_a_sigkilled_harness_is_cleaned_up_by_the_next_start() -> None:
    node.RealNode.remove_abandoned()  # what an earlier failed run left, not this one
    before = host.snapshot()
    harness = _start_harness(network=3)
    try:
        _assert_node_was_there(before)
    finally:
        harness.send_signal(signal.SIGKILL)
        harness.wait()
    # containerd's shims and the pod outlive a SIGKILLed harness (they are not its children)
    assert _ours(host.snapshot()) != _ours(before)
    # ... until the next node start, which calls this first, reads the record and undoes it
    node.RealNode.remove_abandoned()
    assert _ours(host.snapshot()) == _ours(before)


def test_sigterm_to_make_cluster_with_a_real_node_undoes_everything(tmp_path: Path) -> None:
    """What `REAL_NODE=yes make cluster` runs, stopped as a service manager (or Ctrl-C) would."""
    node.RealNode.remove_abandoned()  # what an earlier failed run left, not this one
    before = host.snapshot()
    command = [
        sys.executable, "-m", "pulse_devcluster", "cluster", "--real-node=yes",
        "--real-node-network=4", f"--kubeconfig={tmp_path / 'kubeconfig'}",
    ]  # fmt: skip
    harness = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "hack")},
    )
    lines: list[str] = []
    output = harness.stdout
    assert output is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(output.readline, "")))
    reader.start()
    try:
        eventually(
            lambda: any(line.startswith("Press Ctrl-C") for line in lines),
            timeout=180,
            what=f"the cluster and its real node to be up; it said: {lines}",
        )
        assert any("the real node pulse-real-0" in line for line in lines), lines
        kubectl = [str(paths.binary("kubectl")), f"--kubeconfig={tmp_path / 'kubeconfig'}"]
        subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(POD), text=True, check=True)
        subprocess.run(
            [*kubectl, "wait", "--for=condition=Ready", "pod/held", "--timeout=60s"], check=True
        )
        _assert_node_was_there(before)
        harness.send_signal(signal.SIGTERM)
        assert harness.wait(timeout=120) == 0, lines
    finally:
        harness.kill()
        reader.join(timeout=10)
    assert any("every process was shut down" in line for line in lines), lines
    assert not (tmp_path / "kubeconfig").exists()
    assert _ours(host.snapshot()) == _ours(before)


def test_a_second_node_on_a_busy_network_is_refused_before_it_changes_anything(
    cluster: LocalCluster, real_node: node.RealNode
) -> None:
    before = host.snapshot()
    with pytest.raises(ClusterError, match=f"already on {real_node.bridge}"):
        node.RealNode(cluster, network=0).start()
    assert _ours(host.snapshot()) == _ours(before)
    assert real_node.name in cluster.kubectl("get", "nodes", "-o", "name").stdout
