"""A real node beside the local control plane: containerd, runc, a bridge CNI and a kubelet.

KWOK's nodes make pods Running without starting anything; this node runs them. Its pods
get addresses on a bridge of their own (10.245.0.0/24 by default) with no route and no NAT off the
machine, so nothing a pod sends can leave it. It is tainted, so only pods that tolerate
`pulse.dev/real-node` (and select `pulse.dev/node-kind: real`) land on it; KWOK stays the
default for scale tests.

What it changes on the host is recorded first and undone on stop (see host.py); a run
killed with SIGKILL leaves a record that the next start reads to clean up.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import yaml

from pulse_devcluster import paths
from pulse_devcluster.apiproxy import TcpRelay
from pulse_devcluster.cluster import SERVICE_IP, ClusterError, LocalCluster
from pulse_devcluster.host import HostChanges, HostError, cgroup_hierarchies, run
from pulse_devcluster.pki import issue_from_ca
from pulse_devcluster.processes import (
    Lifecycle,
    ManagedProcess,
    abandoned_work_dirs,
    free_port,
    owned_work_dir,
)

NODE_NAME = "pulse-real-0"
NODE_KIND_LABEL = "pulse.dev/node-kind"
TAINT_KEY = "pulse.dev/real-node"
GATEWAY_IP = "10.245.0.1"
"""The default node's bridge address: its InternalIP, and where its pods reach servers on
the host. A node started with `network=N` uses 10.245.N.0/24 instead."""
PAUSE_IMAGE = "pulse-pause:1.0"
"""The pod sandbox image (`make images`), named as pod specs name images: containerd
qualifies it the same way on import and on lookup."""
NO_REGISTRY = "http://127.0.0.1:9"
"""Where image pulls go: the discard port on loopback, where nothing listens."""
API_RELAY_PORT = 6443
"""Where on the gateway the relay to the API server listens (see apiproxy.py)."""
CNI_PLUGIN_DIRS = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
_WORK_DIR_PREFIX = "pulse-node-"
_READY_TIMEOUT = 90.0


def _cni_plugin_dir() -> Path | None:
    return next((d for d in CNI_PLUGIN_DIRS if (d / "bridge").is_file()), None)


def unavailable_reason() -> str | None:
    """Why a real node cannot run on this machine, or None when it can."""
    if platform.system() != "Linux":
        return f"a real node needs Linux (this is {platform.system()})"
    if os.geteuid() != 0:
        return "a real node needs root (containerd, cgroups and a bridge)"
    for tool in ("containerd", "runc", "ctr", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (hack/node/install-deps.sh installs it)"
    if _cni_plugin_dir() is None:
        return "the CNI plugins are not installed (hack/node/install-deps.sh installs them)"
    if not cgroup_hierarchies():
        return "no cgroup hierarchy is mounted"
    try:
        paths.binary("kubelet")
        image_archives()
    except paths.MissingToolError as error:
        return str(error)
    return None


def image_archives() -> list[Path]:
    """The archives `make images` wrote, the pause image among them."""
    archives = sorted(paths.IMAGES_DIR.glob("*.tar"))
    if not any(a.name == "pulse-pause.tar" for a in archives):
        raise paths.MissingToolError(f"no images in {paths.IMAGES_DIR}: run `make images`")
    return archives


class RealNode(Lifecycle):
    """One kubelet with containerd and runc, registered with a running LocalCluster."""

    def __init__(
        self, cluster: LocalCluster, images: Sequence[Path] | None = None, *, network: int = 0
    ) -> None:
        """`network` picks the pod subnet 10.245.N.0/24, so that two nodes (of two clusters)
        can run at once without sharing a route."""
        self.cluster = cluster
        self.gateway_ip = f"10.245.{network}.1"
        self.pod_subnet = f"10.245.{network}.0/24"
        self.images = list(images) if images is not None else image_archives()
        self.name = NODE_NAME
        self._processes: list[ManagedProcess] = []
        self._work_dir: Path | None = None
        self._changes: HostChanges | None = None
        self._relay: TcpRelay | None = None
        self.startup_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Starts containerd, loads the images, starts the kubelet, waits for Ready."""
        reason = unavailable_reason()
        if reason:
            raise ClusterError(reason)
        begin = time.monotonic()
        self.remove_abandoned()
        holder = run("ip", "-o", "-4", "addr", "show", "to", self.gateway_ip).split()
        if holder:
            raise ClusterError(
                f"{self.gateway_ip} is already on {holder[1]}: another real node is running "
                "(give this one another network, e.g. --real-node-network=1)"
            )
        self._work_dir = work = owned_work_dir(_WORK_DIR_PREFIX)
        (work / "logs").mkdir()
        self._changes = changes = HostChanges(work_dir=work)
        token = secrets.token_hex(3)
        try:
            changes.remember_sysctls()
            changes.make_cgroup(f"/pulse-node-{token}")
            changes.make_bridge(f"pulsebr-{token}", f"{self.gateway_ip}/24")
            self._fence_and_route_api(changes)
            self._start_containerd()
            self._import_images()
            self._fence_registries()
            self._start_kubelet()
            self.cluster_wait("the real node to be Ready", self._ready)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begin

    def stop(self) -> None:
        """Stops the kubelet and containerd, kills what runs in the node's cgroups, and
        undoes every host change. Raises if something could not be undone."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        problems: list[str] = []
        if self._changes is not None:
            problems = self._changes.undo()
            self._changes = None
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None
        if self.cluster.server:
            self.cluster.kubectl("delete", "node", self.name, "--ignore-not-found", check=False)
        if problems:
            raise HostError("the real node left changes behind: " + "; ".join(problems))

    @staticmethod
    def remove_abandoned() -> None:
        """Undoes the host changes of nodes whose harness died before it could."""
        for work_dir in abandoned_work_dirs(_WORK_DIR_PREFIX):
            problems = HostChanges.load(work_dir).undo()
            if problems:
                raise HostError(f"could not clean up {work_dir}: " + "; ".join(problems))
            shutil.rmtree(work_dir, ignore_errors=True)

    # -- what tests and the demo use ----------------------------------------------

    @property
    def work_dir(self) -> Path:
        assert self._work_dir is not None, "the node is not running"
        return self._work_dir

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def bridge(self) -> str:
        """The pod network's bridge interface on the host."""
        assert self._changes is not None, "the node is not running"
        return self._changes.bridge

    def ctr(self, *args: str, timeout: float = 300) -> str:
        """Runs `ctr` against the node's containerd, in the CRI's namespace."""
        done = subprocess.run(
            ["ctr", f"--address={self._containerd_socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(f"ctr {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The end of the log of the node's `kubelet` or `containerd`."""
        for process in self._processes:
            if process.name == name:
                return process.log_tail(lines)
        return f"({name} is not running)"

    def ensure_running(self) -> None:
        for process in self._processes:
            process.ensure_running()

    def cluster_wait(self, what: str, ready: object, timeout: float = _READY_TIMEOUT) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout
        while not ready():
            self.ensure_running()
            self.cluster.ensure_running()
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"timed out after {timeout:.0f}s waiting for {what}; last log lines:\n"
                    + (self._processes[-1].log_tail(30) if self._processes else "")
                )
            time.sleep(0.2)

    # -- internals ---------------------------------------------------------------

    @property
    def _containerd_socket(self) -> Path:
        return self.work_dir / "containerd" / "containerd.sock"

    def _start_containerd(self) -> None:
        assert self._changes is not None
        work = self.work_dir
        cni_dir = work / "cni"
        cni_dir.mkdir()
        (cni_dir / "10-pulse.conflist").write_text(json.dumps(self._cni_config(), indent=2))
        config = self._containerd_config(cni_dir)
        (work / "containerd.toml").write_text(config)
        self._processes.append(
            ManagedProcess.start(
                "containerd",
                ["containerd", f"--config={work / 'containerd.toml'}"],
                self.log_dir,
            )
        )
        self.cluster_wait("containerd's socket", self._containerd_socket.exists, timeout=30)
        self.cluster_wait("containerd to answer", self._containerd_answers, timeout=30)

    def _fence_and_route_api(self, changes: HostChanges) -> None:
        """Nothing a pod sends is forwarded by the host (whatever ip_forward says), and the
        pods' `kubernetes` Service address leads to the API server (apiproxy.py)."""
        bridge = changes.bridge
        # pod to pod stays on the bridge; anything routed into or out of it is dropped
        changes.insert_iptables_rule(
            "filter", "FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "DROP"
        )
        changes.insert_iptables_rule(
            "filter", "FORWARD", "-o", bridge, "!", "-i", bridge, "-j", "DROP"
        )
        api = urllib.parse.urlsplit(self.cluster.server)
        self._relay = TcpRelay(
            (self.gateway_ip, API_RELAY_PORT), ("127.0.0.1", int(api.port or 443))
        )
        relay = f"{self.gateway_ip}:{API_RELAY_PORT}"
        changes.insert_iptables_rule(
            "nat", "PREROUTING", "-i", bridge, "-d", f"{SERVICE_IP}/32", "-p", "tcp",
            "--dport", "443", "-j", "DNAT", "--to-destination", relay,
        )  # fmt: skip

    def _containerd_answers(self) -> bool:
        try:
            self.ctr("version", timeout=10)
        except (ClusterError, subprocess.TimeoutExpired):
            return False
        return True

    def _containerd_config(self, cni_dir: Path) -> str:
        assert self._changes is not None
        work = self.work_dir
        cni_bin = _cni_plugin_dir()
        return f"""version = 2
root = "{work / "containerd" / "root"}"
state = "{work / "containerd" / "state"}"
# containerd, and the shims it starts, live in the node's cgroup, so stop() finds them all
[cgroup]
  path = "{self._changes.cgroup}/containerd"
[grpc]
  address = "{self._containerd_socket}"
[ttrpc]
  address = "{work / "containerd" / "containerd.sock.ttrpc"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{work / "containerd" / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # root lacks CAP_SYS_RESOURCE here: a negative oom_score_adj would fail every sandbox
  restrict_oom_score_adj = true
  # network namespaces under the work directory, not /run/netns, so cleanup finds them
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_unprivileged_ports = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_dir}"
  # every image is imported; a pull (a typo, pullPolicy: Always) goes to a closed
  # loopback port and fails at once instead of leaving the machine
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{self._registry_hosts}"
"""

    @property
    def _registry_hosts(self) -> Path:
        return self.work_dir / "registry-hosts"

    def _fence_registries(self) -> None:
        """Points every registry the imported images are named after (the one containerd
        qualifies unqualified names with) at a closed loopback port: no pull leaves the
        machine, it fails at once with ErrImagePull."""
        names = self.ctr("images", "ls", "--quiet").split()
        for host in sorted(
            {n.split("/")[0] for n in names if "/" in n and not n.startswith("sha256:")}
        ):
            directory = self._registry_hosts / host
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "hosts.toml").write_text(
                f'server = "{NO_REGISTRY}"\n'
                f'[host."{NO_REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n'
            )

    def _cni_config(self) -> dict[str, object]:
        assert self._changes is not None
        return {
            "cniVersion": "0.4.0",
            "name": "pulse-real-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self._changes.bridge,
                    "isGateway": True,
                    "isDefaultGateway": False,  # no default route: nothing leaves the machine
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.pod_subnet, "gateway": self.gateway_ip}]],
                        # the pod subnet, and the `kubernetes` Service (DNAT to the relay)
                        "routes": [{"dst": self.pod_subnet}, {"dst": f"{SERVICE_IP}/32"}],
                        "dataDir": str(self.work_dir / "cni-ipam"),
                    },
                }
            ],
        }

    def _import_images(self) -> None:
        for archive in self.images:
            self.ctr("images", "import", "--no-unpack=false", str(archive))

    def _start_kubelet(self) -> None:
        assert self._changes is not None
        assert self.cluster.pki is not None
        work = self.work_dir
        pki = self.cluster.pki
        certs = work / "pki"
        user = f"system:node:{self.name}"
        client = issue_from_ca(certs, "kubelet-client", user, "system:nodes", pki.ca)
        serving = issue_from_ca(
            certs, "kubelet", user, "system:nodes", pki.ca, server_names=[self.gateway_ip]
        )
        self._bind_node_role()
        kubeconfig = self.cluster.write_kubeconfig(
            work / "kubelet.kubeconfig",
            user,
            {
                "client-certificate": str(client.cert),
                "client-key": str(client.key),
            },
        )
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki.ca.cert)},
            },
            "authorization": {"mode": "Webhook"},
            "address": self.gateway_ip,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "tlsCertFile": str(serving.cert),
            "tlsPrivateKeyFile": str(serving.key),
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self._changes.cgroup,
            "failCgroupV1": False,  # this machine mounts cgroup v1 hierarchies
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self._containerd_socket}",
            "podLogsDir": str(work / "pod-logs"),
            "staticPodPath": "",
            "resolvConf": "",  # pods get no resolver: no name leads off the machine
            "makeIPTablesUtilChains": False,  # no iptables chains on the host
            "oomScoreAdj": 0,  # root cannot lower it here
            "serializeImagePulls": False,
            "imageGCHighThresholdPercent": 100,  # never delete the images it cannot pull
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%"},
            "maxPods": 30,
            "nodeStatusUpdateFrequency": "2s",
            "syncFrequency": "5s",
            "registerWithTaints": [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
        }  # fmt: skip
        config_path = work / "kubelet.yaml"
        config_path.write_text(yaml.safe_dump(config))
        self._processes.append(
            ManagedProcess.start(
                "kubelet",
                [
                    paths.binary("kubelet"),
                    f"--config={config_path}",
                    f"--kubeconfig={kubeconfig}",
                    f"--root-dir={work / 'kubelet'}",
                    f"--hostname-override={self.name}",
                    f"--node-ip={self.gateway_ip}",
                    f"--node-labels={NODE_KIND_LABEL}=real",
                    "--v=1",
                ],
                self.log_dir,
            )
        )

    def _bind_node_role(self) -> None:
        """The cluster authorizes with RBAC only: the kubelet's user gets `system:node`."""
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"pulse-{self.name}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:node",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": f"system:node:{self.name}",
                }
            ],
        }
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(binding))

    def _ready(self) -> bool:
        result = self.cluster.kubectl("get", "node", self.name, "-o", "json", check=False)
        if result.returncode != 0:
            return False
        conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


__all__ = ["NODE_KIND_LABEL", "NODE_NAME", "TAINT_KEY", "RealNode", "unavailable_reason"]
