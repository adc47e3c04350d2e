"""A real node leaves the host as it found it: after a normal stop, and after its harness
was killed with SIGKILL (the next start cleans up from the record it left).

Each case runs a harness of its own (a control plane and a node on pod network 10.245.N.0/24)
in a subprocess, beside the session's node, and compares the host before and after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from pulse_devcluster import host, node

REPO = Path(__file__).resolve().parents[2]
# Starts a cluster and a node, runs a pod on it, says so, then stops on a line of input
# (or dies where it stands when killed).
HARNESS = textwrap.dedent(
    """
    import json, sys
    from pulse_devcluster.cluster import LocalCluster
    from pulse_devcluster.node import RealNode, NODE_KIND_LABEL, TAINT_KEY, PAUSE_IMAGE
    from pulse_devcluster.paths import IMAGES_DIR
    pause = [IMAGES_DIR / "pulse-pause.tar"]  # all this pod needs: a quick import
    with LocalCluster(crd_files=[]) as cluster, RealNode(cluster, pause, network=int(sys.argv[1])):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "held", "namespace": "default"},
               "spec": {"nodeSelector": {NODE_KIND_LABEL: "real"},
                        "tolerations": [{"key": TAINT_KEY, "operator": "Exists"}],
                        "containers": [{"name": "c", "image": PAUSE_IMAGE}]}}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
        cluster.kubectl("wait", "--for=condition=Ready", "pod/held", "--timeout=60s")
        print("running", flush=True)
        sys.stdin.readline()
    print("stopped", flush=True)
    """
)


def _start_harness(network: int) -> subprocess.Popen[str]:
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(network)],
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
