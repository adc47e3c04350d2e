"""The local control plane: start it, wait until it serves, stop every process.

`LocalCluster` is a context manager used by `make cluster`, `make demo`, the pytest
fixture and the benchmarks alike, so all of them run the same control plane.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import yaml

from pulse_devcluster import paths
from pulse_devcluster.pki import ClusterPki, create_pki
from pulse_devcluster.processes import (
    Lifecycle,
    ManagedProcess,
    ProcessFailedError,
    abandoned_work_dirs,
    free_port,
    owned_work_dir,
)

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    # Prometheus Operator runs Prometheus and Alertmanager as StatefulSets, and Prometheus
    # finds Alertmanager through the Endpoints of its Service (podstack.py)
    "statefulset-controller",
    "endpoints-controller",
    "serviceaccount-controller",
    "endpointslice-controller",
    # removes the not-ready taint the API server puts on every new Node once it is Ready
    "node-lifecycle-controller",
    # publishes kube-root-ca.crt, which a real node's service-account token volumes mount
    "root-ca-certificate-publisher-controller",
)
_START_TIMEOUT = 60.0
# Every write (and only writes) is audited, so tests and benchmarks can count the
# requests a client sent by its user agent: "idle means idle" is measured, not assumed.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}
_WORK_DIR_PREFIX = "pulse-cluster-"


class ClusterError(RuntimeError):
    """The control plane did not come up, or a command against it failed."""


def _fake_node(name: str) -> dict[str, object]:
    """A Node that KWOK manages (the annotation selects it) with room for many pods."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


class LocalCluster(Lifecycle):
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on loopback."""

    def __init__(
        self,
        *,
        nodes: int = 1,
        crd_files: Sequence[Path] | None = None,
        kubeconfig_path: Path | None = None,
    ) -> None:
        """`crd_files` defaults to Pulse's and Prometheus Operator's CRDs;
        `kubeconfig_path` is where the admin kubeconfig is written (and removed on stop)."""
        self.nodes = nodes
        self.crd_files = (
            list(crd_files)
            if crd_files is not None
            else [*paths.pulse_crds(), *paths.third_party_crds()]
        )
        self._requested_kubeconfig = kubeconfig_path
        self._processes: list[ManagedProcess] = []
        self._work_dir: Path | None = None
        self.server = ""
        self.kubeconfig = Path()
        self.pki: ClusterPki | None = None
        self.startup_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Starts every component and returns once the cluster can run pods."""
        begin = time.monotonic()
        binaries = {
            name: paths.binary(name)
            for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
        }
        binaries["kwok"] = paths.binary("kwok")
        binaries["kubectl"] = paths.binary("kubectl")
        self._kubectl_binary = binaries["kubectl"]
        self.remove_abandoned_work_dirs()
        self._work_dir = owned_work_dir(_WORK_DIR_PREFIX)
        try:
            self._start(binaries)
            if self._requested_kubeconfig is not None:
                # Published only now, so its presence means "ready, CRDs established".
                published = self._requested_kubeconfig
                published.parent.mkdir(parents=True, exist_ok=True)
                staging = published.with_suffix(".tmp")
                shutil.copy2(self.kubeconfig, staging)
                staging.replace(published)
                self.kubeconfig = published
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - begin

    def _start(self, binaries: dict[str, Path]) -> None:
        assert self._work_dir is not None
        logs = self._work_dir / "logs"
        logs.mkdir()
        self.pki = pki = create_pki(self._work_dir / "pki", SERVICE_IP)

        etcd_port, etcd_peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{etcd_peer_port}"
        self._spawn(
            "etcd",
            [
                binaries["etcd"],
                "--name=pulse",
                f"--data-dir={self._work_dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=pulse={peer_url}",
                "--unsafe-no-fsync=true",  # throwaway data: durability buys nothing here
                "--log-level=warn",
            ],
            logs,
        )
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                binaries["kube-apiserver"],
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self._work_dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.apiserver.cert}",
                f"--tls-private-key-file={pki.apiserver.key}",
                f"--client-ca-file={pki.ca.cert}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={pki.service_account.cert}",
                f"--service-account-signing-key-file={pki.service_account.key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
                f"--audit-policy-file={self._write_audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=batch",
                "--audit-log-batch-max-wait=1s",
                # a real node (node.py) is reached by its IP, never by a name the machine's
                # resolver would be asked for; logs and exec authenticate with this pair
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-client-certificate={pki.kubelet_client.cert}",
                f"--kubelet-client-key={pki.kubelet_client.key}",
                f"--kubelet-certificate-authority={pki.ca.cert}",
            ],
            logs,
        )
        self.kubeconfig = self._write_kubeconfig()
        self._wait_ready()
        # CRDs go in before kube-controller-manager starts, so its garbage collector
        # discovers them at once instead of at its next 30-second discovery resync.
        if self.crd_files:
            self.apply_crds(self.crd_files)

        kubeconfig = f"--kubeconfig={self.kubeconfig}"
        delegated = [
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--authentication-skip-lookup=true",  # no front proxy: nothing to look up
        ]
        self._spawn(
            "kube-controller-manager",
            [
                binaries["kube-controller-manager"],
                kubeconfig,
                *delegated,
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--root-ca-file={pki.ca.cert}",
                "--concurrent-gc-syncs=20",
                # a dev cluster serves one client at a time in bursts (benchmarks create
                # hundreds of Deployments): the default 20 QPS would be the bottleneck
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ],
            logs,
        )
        self._spawn(
            "kube-scheduler",
            [
                binaries["kube-scheduler"],
                kubeconfig,
                *delegated,
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ],
            logs,
        )
        self._spawn(
            "kwok",
            [
                binaries["kwok"],
                kubeconfig,
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                *(f"--config={stage}" for stage in paths.kwok_stages()),
                f"--server-address=127.0.0.1:{free_port()}",
            ],
            logs,
        )
        node_list = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [_fake_node(f"pulse-node-{i}") for i in range(self.nodes)],
        }
        self.kubectl("apply", "-f", "-", input=json.dumps(node_list))
        self._wait_for("the nodes to be Ready and untainted", self._nodes_schedulable)
        self._wait_for(
            "the default ServiceAccount",
            lambda: self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
        )

    def stop(self) -> None:
        """Stops every process (in reverse order) and removes the data directory."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if self._requested_kubeconfig is not None:
            self._requested_kubeconfig.unlink(missing_ok=True)
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    # -- operations --------------------------------------------------------------

    @staticmethod
    def remove_abandoned_work_dirs() -> None:
        """Deletes data directories of clusters whose harness was killed before it could."""
        for work_dir in abandoned_work_dirs(_WORK_DIR_PREFIX):
            shutil.rmtree(work_dir, ignore_errors=True)

    def ensure_running(self) -> None:
        """Raises ProcessFailedError, with the end of its log, if any component exited."""
        for process in self._processes:
            process.ensure_running()

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    @property
    def log_dir(self) -> Path:
        assert self._work_dir is not None, "the cluster is not running"
        return self._work_dir / "logs"

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Runs the project's kubectl against this cluster and returns its output."""
        result = subprocess.run(
            [str(self._kubectl_binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply_crds(self, files: Sequence[Path]) -> None:
        """Applies CRDs server-side and waits until the API server serves them."""
        args = ["apply", "--server-side", "--field-manager=pulse-devcluster"]
        for path in files:
            args += ["-f", str(path)]
        names = self.kubectl(*args, "-o", "name").stdout.split()
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)

    # -- internals ---------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str | Path], logs: Path) -> None:
        self._processes.append(ManagedProcess.start(name, argv, logs))

    @property
    def audit_log(self) -> Path:
        """JSON lines, one per write request (see AUDIT_POLICY)."""
        assert self._work_dir is not None, "the cluster is not running"
        return self._work_dir / "audit.log"

    def writes_by(self, user_agent_prefix: str | tuple[str, ...]) -> list[dict[str, object]]:
        """The audited write requests, in the log's order, whose client's user agent starts
        with the prefix (or with one of the prefixes)."""
        if not self.audit_log.exists():
            return []
        events = []
        for line in self.audit_log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:  # empty, or a line the API server is still writing
                continue
        return [e for e in events if str(e.get("userAgent", "")).startswith(user_agent_prefix)]

    def _write_audit_policy(self) -> Path:
        assert self._work_dir is not None
        path = self._work_dir / "audit-policy.yaml"
        path.write_text(yaml.safe_dump(AUDIT_POLICY))
        return path

    def write_kubeconfig(self, target: Path, user: str, credentials: dict[str, str]) -> Path:
        """A kubeconfig (mode 0600) for this cluster whose only credentials are
        `credentials` (client-certificate-data/client-key-data, or token)."""
        assert self.pki is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "pulse-dev",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _base64(self.pki.ca.cert),
                    },
                }
            ],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": "pulse-dev", "context": {"cluster": "pulse-dev", "user": user}}],
            "current-context": "pulse-dev",
        }
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        target.chmod(0o600)
        return target

    def _write_kubeconfig(self) -> Path:
        assert self.pki is not None
        assert self._work_dir is not None
        admin = {
            "client-certificate-data": _base64(self.pki.admin.cert),
            "client-key-data": _base64(self.pki.admin.key),
        }
        return self.write_kubeconfig(self._work_dir / "kubeconfig", "pulse-admin", admin)

    def _readyz(self) -> bool:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        try:
            with urllib.request.urlopen(f"{self.server}/readyz", context=context, timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _nodes_schedulable(self) -> bool:
        nodes = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        return len(nodes) == self.nodes and all(
            not node["spec"].get("taints")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
            for node in nodes
        )

    def _wait_ready(self) -> None:
        self._wait_for("kube-apiserver /readyz", self._readyz)

    def _wait_for(self, what: str, ready: object, timeout: float = _START_TIMEOUT) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout
        while True:
            self.ensure_running()
            if ready():
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)


__all__ = ["ClusterError", "LocalCluster", "ProcessFailedError"]
