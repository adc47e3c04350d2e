"""What the install tests share: a small REST client, the chart's ServiceAccount's
credentials, and the operator started the way the chart's Deployment starts it.

The operator runs here as a local process (no container engine), but with nothing of the
admin's: a kubeconfig holding only a TokenRequest token of the ServiceAccount under test.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pulse_chart
import yaml
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

REPO = Path(__file__).resolve().parents[3]
OPERATOR = Path(sys.executable).with_name("pulse-operator")
Object = dict[str, Any]

_PLURALS = {
    "ConfigMap": ("v1", "configmaps"),
    "Secret": ("v1", "secrets"),
    "Service": ("v1", "services"),
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Event": ("v1", "events"),
    "Namespace": ("v1", "namespaces"),
    "Pod": ("v1", "pods"),
    "Deployment": ("apps/v1", "deployments"),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors"),
    "PodMonitor": ("monitoring.coreos.com/v1", "podmonitors"),
    "PrometheusRule": ("monitoring.coreos.com/v1", "prometheusrules"),
    "Prometheus": ("monitoring.coreos.com/v1", "prometheuses"),
    "ThanosRuler": ("monitoring.coreos.com/v1", "thanosrulers"),
    "MetricsCollector": ("pulse.dev/v1alpha1", "metricscollectors"),
    "SLO": ("pulse.dev/v1alpha1", "slos"),
}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The REST path of a collection, or of one object when `name` is given."""
    api_version, plural = _PLURALS[kind]
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = "" if kind in _CLUSTER_SCOPED or namespace is None else f"/namespaces/{namespace}"
    return f"{root}{scope}/{plural}" + (f"/{name}" if name else "")


class ApiError(RuntimeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Api:
    """REST calls as the cluster's admin (client certificate), for setting up and looking."""

    def __init__(self, cluster: LocalCluster) -> None:
        assert cluster.pki is not None
        self.server = cluster.server
        self._context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
        self._context.load_cert_chain(str(cluster.pki.admin.cert), str(cluster.pki.admin.key))

    def request(
        self,
        method: str,
        url_path: str,
        body: Object | None = None,
        content_type: str = "application/json",
    ) -> Object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.server + url_path,
            data=data,
            method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=30) as response:
                answer: Object = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode(errors="replace")) from None

    def get(self, kind: str, namespace: str | None, name: str) -> Object | None:
        try:
            return self.request("GET", path(kind, namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str | None = None) -> list[Object]:
        items: list[Object] = self.request("GET", path(kind, namespace)).get("items", [])
        return items

    def apply(self, obj: Object) -> Object:
        """Server-side apply as the tests' own field manager."""
        meta = obj["metadata"]
        url = path(obj["kind"], meta.get("namespace"), meta["name"])
        return self.request(
            "PATCH",
            f"{url}?fieldManager=pulse-install-tests&force=true",
            obj,
            content_type="application/apply-patch+yaml",
        )

    def patch(self, kind: str, namespace: str | None, name: str, merge: Object) -> Object:
        return self.request(
            "PATCH", path(kind, namespace, name), merge, "application/merge-patch+json"
        )

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        try:
            self.request("DELETE", path(kind, namespace, name))
        except ApiError as error:
            if error.status != 404:
                raise

    def condition(self, kind: str, namespace: str, name: str, type_: str) -> str | None:
        """The status ("True", "False", ...) of one condition, or None when absent."""
        obj = self.get(kind, namespace, name) or {}
        for condition in obj.get("status", {}).get("conditions", []):
            if condition["type"] == type_:
                return str(condition["status"])
        return None

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": labels or {}},
            }
        )


def load_yaml(path_: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path_.read_text()) if doc]


# -- Helm releases ---------------------------------------------------------------------


@dataclass
class Release:
    """A Helm release of the chart and what it created."""

    name: str
    namespace: str
    values: dict[str, Any]
    info: Object
    api: Api

    @property
    def operator_name(self) -> str:
        """The Deployment's, ServiceAccount's and ClusterRole's name (the release name
        contains "pulse", so it is the chart's name prefix)."""
        return f"{self.name}-operator"

    def deployment(self) -> Object:
        found = self.api.get("Deployment", self.namespace, self.operator_name)
        assert found is not None, "the chart's Deployment is missing"
        return found


@dataclass
class Installer:
    """Installs releases of the chart, and uninstalls them all at the end."""

    cluster: LocalCluster
    api: Api
    releases: list[Release]

    def install(
        self,
        values: dict[str, Any] | None = None,
        *,
        namespace_labels: dict[str, str] | None = None,
        prefix: str = "pulse",
    ) -> Release:
        name = unique(prefix)
        namespace = f"{name}-system"
        self.api.create_namespace(namespace, namespace_labels)
        with helm.Config(kubeconfig_path=str(self.cluster.kubeconfig), namespace=namespace) as cfg:
            info = cfg.install(
                str(pulse_chart.CHART_DIR),
                name,
                values or {},
                namespace=namespace,
                wait="watcher",
                timeout=120,
            )
        release = Release(name, namespace, values or {}, info, self.api)
        self.releases.append(release)
        return release

    def uninstall(self, release: Release) -> None:
        with helm.Config(
            kubeconfig_path=str(self.cluster.kubeconfig), namespace=release.namespace
        ) as cfg:
            cfg.uninstall(release.name, wait="watcher", timeout=120)
        self.releases.remove(release)
        self.api.delete("Namespace", None, release.namespace)


# -- credentials -------------------------------------------------------------------


def service_account_user(namespace: str, name: str) -> str:
    """How the API server names a ServiceAccount in audit events and messages."""
    return f"system:serviceaccount:{namespace}:{name}"


def token_kubeconfig(cluster: LocalCluster, namespace: str, name: str, target: Path) -> Path:
    """A kubeconfig whose only credential is a fresh TokenRequest token of the
    ServiceAccount: what the kubelet mounts into the operator's pod."""
    token = cluster.kubectl(
        "create", "token", name, "-n", namespace, "--duration=2h"
    ).stdout.strip()
    return cluster.write_kubeconfig(target, name, {"token": token})


def can_i(cluster: LocalCluster, kubeconfig: Path, *args: str) -> bool:
    """`kubectl auth can-i` with the given credentials: a SelfSubjectAccessReview."""
    result = cluster.kubectl(f"--kubeconfig={kubeconfig}", "auth", "can-i", *args, check=False)
    if result.returncode not in (0, 1) or result.stdout.strip() not in ("yes", "no"):
        raise AssertionError(f"kubectl auth can-i {' '.join(args)}: {result.stderr}")
    return result.returncode == 0


# -- the operator ---------------------------------------------------------------------


def chart_container(deployment: Object) -> Object:
    """The operator container of the chart's Deployment."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def operator_command(container: Object, liveness_port: int) -> tuple[list[str], dict[str, str]]:
    """The chart container's arguments and literal environment, with the health endpoint
    moved to loopback: how the image would run the operator, minus the container."""
    args = [
        f"--liveness=http://127.0.0.1:{liveness_port}/healthz"
        if arg.startswith("--liveness=")
        else arg
        for arg in container["args"]
    ]
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return [str(OPERATOR), *args], env


@dataclass
class OperatorRun:
    """A running operator and what it said."""

    process: ManagedProcess
    user: str
    """The API user it runs as (system:serviceaccount:...)."""
    audit_offset: int = 0
    """Where the audit log ended when it started: its writes come after."""

    def _log_lines(self) -> list[tuple[str, Object | None]]:
        """Each log line with its JSON record, or None when the line is not a JSON
        object; JSON that is not an object is left out."""
        parsed: list[tuple[str, Object | None]] = []
        for line in self.process.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                parsed.append((line, None))
                continue
            if isinstance(record, dict):
                parsed.append((line, record))
        return parsed

    def log_records(self) -> list[Object]:
        """The JSON log records (kopf's "object" field names what a record is about)."""
        return [record for _, record in self._log_lines() if record is not None]

    def log_messages(self) -> list[str]:
        """Every log record's message (with its exception, if any), JSON decoded."""
        messages = [
            line
            if record is None
            else " ".join(str(record.get(k, "")) for k in ("message", "exc_info"))
            for line, record in self._log_lines()
        ]
        # API errors quote the server's JSON answer inside the message: unescape its quotes.
        return [message.replace('\\"', '"') for message in messages]

    def rbac_refusals(self) -> list[str]:
        """Log messages about a request RBAC refused this operator's user."""
        return [m for m in self.log_messages() if f'User "{self.user}" cannot' in m]

    def log_text(self) -> str:
        return self.process.log_path.read_text(errors="replace")


@contextmanager
def running_operator(
    cluster: LocalCluster,
    kubeconfig: Path,
    user: str,
    container: Object,
    *,
    extra_args: tuple[str, ...] = (),
    name: str = "pulse-operator",
    program: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[OperatorRun]:
    """Starts the operator with only the given kubeconfig's credentials, waits until its
    health endpoint answers, and stops it on exit. `program` replaces the pulse-operator
    binary (it gets the same arguments); `env` adds to the container's environment."""
    port = free_port()
    command, container_env = operator_command(container, port)
    if program is not None:
        command = [*program, *command[1:]]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KUBERNETES_", "PULSE_"))
    }
    environment.update(container_env, **(env or {}), KUBECONFIG=str(kubeconfig), POD_ID=name)
    offset = cluster.audit_log.stat().st_size if cluster.audit_log.exists() else 0
    process = ManagedProcess.start(
        unique(name), [*command, *extra_args], cluster.log_dir, env=environment
    )
    run = OperatorRun(process=process, user=user, audit_offset=offset)
    try:

        def healthy() -> bool:
            process.ensure_running()
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        eventually(healthy, timeout=60, what="the operator's /healthz")
        yield run
    finally:
        process.stop()
        print(f"--- last lines of {process.log_path.name}:\n{process.log_tail(30)}")


def release_operator(
    cluster: LocalCluster, release: Release, directory: Path, **options: Any
) -> AbstractContextManager[OperatorRun]:
    """The operator exactly as the chart runs it (arguments, environment) with only the
    chart ServiceAccount's token; `options` go to running_operator."""
    kubeconfig = token_kubeconfig(
        cluster, release.namespace, release.operator_name, directory / "kubeconfig"
    )
    return running_operator(
        cluster,
        kubeconfig,
        service_account_user(release.namespace, release.operator_name),
        chart_container(release.deployment()),
        **options,
    )


def audit_events(cluster: LocalCluster, user: str | None = None, offset: int = 0) -> list[Object]:
    """The audited write requests (the cluster audits every write) from `offset` bytes
    into the audit log on, of one API user or of all."""
    if not cluster.audit_log.exists():
        return []
    with cluster.audit_log.open("rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line the API server is still writing
            continue
    return [e for e in events if user is None or e.get("user", {}).get("username") == user]
