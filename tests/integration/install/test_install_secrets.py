"""Credentials come only from Secret references and never show anywhere they could leak.

A full run: the operator (the chart's ServiceAccount, debug logging) reconciles a
collector whose ingest keys and sink credentials are in Secrets, and one whose Secret is
missing; then the sidecar runs on the configuration the operator rendered, with the
Secrets laid out as the kubelet would mount them, takes events, and pushes to local
receivers, one of which fails. The receivers see the credentials (they are used); the
operator's and the sidecar's logs, the Events, the resources' status and annotations, the
rendered children, and the sidecar's /status and /metrics hold none of them.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from install_testing import (
    OPERATOR,
    Api,
    Object,
    OperatorRun,
    Release,
    release_operator,
)
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess, free_port
from tests.support import eventually

SIDECAR = OPERATOR.with_name("pulse-sidecar")


def _secret() -> str:
    return f"s3cret-{uuid.uuid4().hex}"


@dataclass
class Credentials:
    """The values in the Secrets: none of them may appear outside the Secrets and the
    requests to the sinks."""

    api_keys: dict[str, str] = field(
        default_factory=lambda: {"alpha": _secret(), "beta": _secret()}
    )
    token: str = field(default_factory=_secret)
    username: str = field(default_factory=_secret)
    password: str = field(default_factory=_secret)

    def secrets(self, namespace: str) -> list[Object]:
        return [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "vault-keys", "namespace": namespace},
                "stringData": self.api_keys,
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "vault-creds", "namespace": namespace},
                "stringData": {"token": self.token, "user": self.username, "pass": self.password},
            },
        ]

    def by_secret(self) -> dict[str, dict[str, str]]:
        return {
            "vault-keys": self.api_keys,
            "vault-creds": {"token": self.token, "user": self.username, "pass": self.password},
        }

    def forms(self) -> dict[str, str]:
        """Every form a value could leak in: as is, base64 (Secret data), and the Basic
        authorization header."""
        values = [*self.api_keys.values(), self.token, self.username, self.password]
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        forms = {value: value for value in values}
        forms |= {base64.b64encode(v.encode()).decode(): f"base64 of {v}" for v in values}
        forms[basic] = "the Basic authorization header"
        return forms


class Receivers:
    """Local sinks on loopback: remote write answers 204, the Pushgateway 500."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                receivers.requests.append((self.path, dict(self.headers)))
                self.send_response(204 if self.path.startswith("/api/v1/write") else 500)
                self.end_headers()

            do_PUT = do_POST  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def authorizations(self) -> set[str]:
        return {headers.get("Authorization", "") for _, headers in self.requests}


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    running = Receivers()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


@pytest.fixture(scope="module")
def operator(
    install_cluster: LocalCluster, chart_release: Release, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorRun]:
    """The operator as the chart runs it, with debug logging: the most it ever says."""
    with release_operator(
        install_cluster,
        chart_release,
        tmp_path_factory.mktemp("secrets"),
        extra_args=("--verbose",),
    ) as run:
        yield run


def _collector(namespace: str, receivers_url: str) -> Object:
    return {
        "apiVersion": "pulse.dev/v1alpha1",
        "kind": "MetricsCollector",
        "metadata": {"name": "vault", "namespace": namespace},
        "spec": {
            "collector": {"image": "vault-app:1"},
            "ingest": {"enabled": True, "apiKeysSecret": "vault-keys"},
            "sinks": [
                {
                    "name": "prom",
                    "remoteWrite": {"url": f"{receivers_url}/api/v1/write"},
                    "auth": {"bearerToken": {"name": "vault-creds", "key": "token"}},
                },
                {
                    "name": "gateway",
                    "pushgateway": {"url": f"{receivers_url}/gateway"},
                    "auth": {
                        "username": {"name": "vault-creds", "key": "user"},
                        "password": {"name": "vault-creds", "key": "pass"},
                    },
                },
            ],
        },
    }


def _mount_secrets(deployment: Object, credentials: Credentials, root: Path) -> None:
    """Lays the Secrets out under `root` as the kubelet mounts them into the sidecar."""
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (sidecar,) = [c for c in pod["containers"] if c["name"] == "pulse-sidecar"]
    for mount in sidecar["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        data = credentials.by_secret()[secret["secretName"]]
        target = root / mount["mountPath"].lstrip("/")
        if "subPath" in mount:
            (item,) = secret["items"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
        else:
            target.mkdir(parents=True, exist_ok=True)
            for key, value in data.items():
                (target / key).write_text(value)


def _http(method: str, url: str, key: str, body: object = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _run_sidecar(
    api: Api, namespace: str, credentials: Credentials, root: Path, log_dir: Path
) -> dict[str, str]:
    """Runs the sidecar on what the operator rendered; returns what it showed."""
    config_map = api.get("ConfigMap", namespace, "vault-sidecar")
    deployment = api.get("Deployment", namespace, "vault")
    assert config_map is not None
    assert deployment is not None
    _mount_secrets(deployment, credentials, root)
    config = root / "sidecar.yaml"
    config.write_text(config_map["data"]["sidecar.yaml"].replace("/etc/pulse", f"{root}/etc/pulse"))
    port = free_port()
    env = {
        **os.environ,
        "PULSE_SIDECAR__SERVER__ADDRESS": "127.0.0.1",
        "PULSE_SIDECAR__SERVER__PORT": str(port),
        "PULSE_SIDECAR__COLLECTOR__POD": "vault-0",
        "PULSE_SIDECAR__SPOOL__PATH": str(root / "spool.db"),
        "PULSE_SIDECAR__LOG_LEVEL": "DEBUG",
    }
    process = ManagedProcess.start("pulse-sidecar", [SIDECAR, "--config", config], log_dir, env)
    base = f"http://127.0.0.1:{port}"
    key = credentials.api_keys["alpha"]
    shown: dict[str, str] = {}
    try:

        def ready() -> bool:
            process.ensure_running()
            try:
                return _http("GET", f"{base}/ready", key)[0] == 200
            except OSError:
                return False

        eventually(ready, what="the sidecar to be ready")
        event = {"service": "vault", "metrics": [{"type": "logins", "value": 1.0}]}
        status, answer = _http("POST", f"{base}/metrics", key, event)
        assert status == 200, answer
        status, _ = _http("POST", f"{base}/metrics", "not-a-key", event)
        assert status == 401
        status, answer = _http("POST", f"{base}/flush", key)
        assert status == 200, answer
        for page in ("/status", "/metrics"):
            status, shown[page] = _http("GET", base + page, key)
            assert status == 200
    finally:
        process.stop()
    shown["sidecar log"] = process.log_path.read_text(errors="replace")
    return shown


def test_no_credential_shows_in_logs_events_status_or_children(
    install_cluster: LocalCluster,
    api: Api,
    operator: OperatorRun,
    receivers: Receivers,
    test_namespace: str,
    tmp_path: Path,
) -> None:
    credentials = Credentials()
    for secret in credentials.secrets(test_namespace):
        api.apply(secret)
    api.apply(_collector(test_namespace, receivers.url))
    orphan = _collector(test_namespace, receivers.url)
    orphan["metadata"]["name"] = "orphan"
    orphan["spec"]["ingest"]["apiKeysSecret"] = "nowhere"
    api.apply(orphan)
    eventually(
        lambda: api.condition("MetricsCollector", test_namespace, "vault", "Ready") == "True",
        timeout=60,
        what="the collector with credentials to be Ready",
    )
    eventually(
        lambda: (
            "SecretMissing" in json.dumps(api.get("MetricsCollector", test_namespace, "orphan"))
        ),
        what="the collector whose Secret is missing to say so",
    )
    # drift correction runs too: the ConfigMap is deleted and restored
    uid = (api.get("ConfigMap", test_namespace, "vault-sidecar") or {})["metadata"]["uid"]
    api.delete("ConfigMap", test_namespace, "vault-sidecar")
    eventually(
        lambda: (
            (api.get("ConfigMap", test_namespace, "vault-sidecar") or {})
            .get("metadata", {})
            .get("uid", uid)
            != uid
        ),
        what="the deleted ConfigMap to be restored",
    )

    shown = _run_sidecar(api, test_namespace, credentials, tmp_path / "pod", tmp_path)

    # The credentials were used where they belong: on the requests to the sinks.
    basic = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    assert f"Bearer {credentials.token}" in receivers.authorizations()
    assert f"Basic {basic}" in receivers.authorizations()

    places = {
        **shown,
        "operator log": operator.log_text(),
        "Events": json.dumps(api.list("Event", test_namespace)),
    }
    for kind in ("MetricsCollector", "ConfigMap", "Deployment", "Service", "PrometheusRule"):
        places[f"{kind}s (spec, status, annotations)"] = json.dumps(api.list(kind, test_namespace))
    # The places above are the real ones: the collectors and their wiring are in them.
    assert "SecretMissing" in places["Events"]
    assert '"secretName": "vault-creds"' in places["Deployments (spec, status, annotations)"]
    assert "vault" in places["operator log"]
    for place, text in places.items():
        leaked = [what for form, what in credentials.forms().items() if form in text]
        assert leaked == [], f"{place} shows {leaked}"
