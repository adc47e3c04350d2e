"""The real Prometheus Operator against a LocalCluster, what it generates, and the
Prometheus and Alertmanager it asks for, run on this host from exactly those files.

Prometheus Operator decides which PrometheusRules a Prometheus loads: it writes the
selected ones into the Prometheus's rule-file ConfigMaps (`prometheus-<name>-rulefiles-N`,
one key `<namespace>-<name>-<uid>.yaml` per rule). Reading those is reading its decision,
which is what Pulse's `Selected` condition must agree with.
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess, free_port

RELOADER_IMAGE = "prometheus-config-reloader:v0.85.0"
"""Named in the StatefulSets Prometheus Operator creates; no image is pulled for it here
(KWOK nodes run no containers)."""


def start_prometheus_operator(
    cluster: LocalCluster, feature_gates: Sequence[str] = ()
) -> ManagedProcess:
    """Starts `make tools`'s prometheus-operator with the cluster admin's certificate,
    watching every namespace, with `feature_gates` on; its log goes beside the cluster's.
    The caller stops it (with StatusForConfigurationResources on, only after the
    Prometheus objects are gone: it puts a finalizer of its own on each)."""
    assert cluster.pki is not None, "the cluster is not running"
    pki = cluster.pki
    return ManagedProcess.start(
        "prometheus-operator",
        [
            paths.binary("prometheus-operator"),
            f"--apiserver={cluster.server}",
            f"--ca-file={pki.ca.cert}",
            f"--cert-file={pki.admin.cert}",
            f"--key-file={pki.admin.key}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
            f"--prometheus-config-reloader={RELOADER_IMAGE}",
            "--log-format=json",
            *(f"--feature-gates={gate}=true" for gate in feature_gates),
        ],
        cluster.log_dir,
    )


def api_get(cluster: LocalCluster, url_path: str) -> Any:
    """A GET of the API server as the cluster's admin, as JSON."""
    assert cluster.pki is not None, "the cluster is not running"
    context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
    context.load_cert_chain(str(cluster.pki.admin.cert), str(cluster.pki.admin.key))
    with urllib.request.urlopen(cluster.server + url_path, context=context, timeout=30) as answer:
        return json.loads(answer.read())


def _rule_config_maps(
    cluster: LocalCluster, namespace: str, prometheus: str
) -> dict[str, dict[str, str]]:
    """A Prometheus's `prometheus-<name>-rulefiles-N` ConfigMaps: name -> their data."""
    prefix = f"prometheus-{prometheus}-rulefiles-"
    found = api_get(cluster, f"/api/v1/namespaces/{namespace}/configmaps")
    return {
        item["metadata"]["name"]: dict(item.get("data") or {})
        for item in found.get("items", [])
        if item["metadata"]["name"].startswith(prefix)
    }


def loaded_rule_files(cluster: LocalCluster, namespace: str, prometheus: str) -> dict[str, str]:
    """The rule files Prometheus Operator generated for a Prometheus: file name -> content
    (none yet: empty)."""
    files: dict[str, str] = {}
    for data in _rule_config_maps(cluster, namespace, prometheus).values():
        files.update(data)
    return files


def loaded_rules(files: Mapping[str, str], uids: Mapping[str, str]) -> set[str]:
    """Which of `uids` (a label, such as namespace/name, -> a PrometheusRule's uid) are in
    `loaded_rule_files`' answer: Prometheus Operator names each file
    `<namespace>-<name>-<uid>.yaml`, so the uid settles it."""
    return {label for label, uid in uids.items() if any(f.endswith(f"-{uid}.yaml") for f in files)}


def _secret_file(cluster: LocalCluster, namespace: str, name: str, key: str) -> str:
    """One key of a Secret, decoded (and gunzipped when the key ends in .gz)."""
    secret = api_get(cluster, f"/api/v1/namespaces/{namespace}/secrets/{name}")
    raw = base64.b64decode(secret["data"][key])
    return (gzip.decompress(raw) if key.endswith(".gz") else raw).decode()


POD_MOUNTS = "/etc/prometheus/rules/"
"""Where Prometheus Operator's StatefulSet mounts the rule-file ConfigMaps."""


def _in_cluster_credentials(config: dict[str, Any], kubeconfig: Path) -> None:
    """What a pod's service account gives Kubernetes service discovery in the cluster,
    given on the host instead: each kubernetes_sd_config without an API server reads the
    cluster's kubeconfig."""
    sections = [*config.get("scrape_configs", []),
                *config.get("alerting", {}).get("alertmanagers", [])]  # fmt: skip
    for section in sections:
        for discovery in section.get("kubernetes_sd_configs", []):
            if "api_server" not in discovery:
                discovery["kubeconfig_file"] = str(kubeconfig)


def prometheus_files(
    cluster: LocalCluster, namespace: str, name: str, target: Path
) -> tuple[Path, list[Path]]:
    """The configuration and rule files Prometheus Operator generated for a Prometheus,
    written under `target` for a Prometheus on this host: the rule files as its pod would
    mount them (under `target`/rules), the configuration as its config reloader would
    expand it (the StatefulSet's first pod, shard 0), with the cluster's kubeconfig
    where the pod would use its service account. Returns the configuration's path and
    the rule files'."""
    rules_root = target / "rules"
    written = []
    for config_map, data in _rule_config_maps(cluster, namespace, name).items():
        directory = rules_root / config_map
        directory.mkdir(parents=True, exist_ok=True)
        for file_name, content in data.items():
            (directory / file_name).write_text(content)
            written.append(directory / file_name)
    config = _secret_file(cluster, namespace, f"prometheus-{name}", "prometheus.yaml.gz")
    for variable, value in {"POD_NAME": f"prometheus-{name}-0", "SHARD": "0"}.items():
        config = config.replace(f"$({variable})", value)  # as the config reloader does
    config = config.replace(POD_MOUNTS, f"{rules_root}/")
    document = yaml.safe_load(config)
    _in_cluster_credentials(document, cluster.kubeconfig)
    config_path = target / "prometheus.yaml"
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    return config_path, written


def alertmanager_config(cluster: LocalCluster, namespace: str, name: str, target: Path) -> Path:
    """The configuration Prometheus Operator generated for an Alertmanager, written to
    `target`/alertmanager.yaml."""
    path = target / "alertmanager.yaml"
    path.write_text(
        _secret_file(cluster, namespace, f"alertmanager-{name}-generated", "alertmanager.yaml.gz")
    )
    return path


def start_host_prometheus(config: Path, port: int, data: Path) -> ManagedProcess:
    """`make tools`'s prometheus with a generated configuration, on loopback only."""
    return ManagedProcess.start(
        "prometheus",
        [
            paths.binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        data.parent,
    )


def start_host_alertmanager(config: Path, port: int, data: Path) -> ManagedProcess:
    """`make tools`'s alertmanager with a generated configuration, on loopback only and
    without clustering (one replica)."""
    return ManagedProcess.start(
        "alertmanager",
        [
            paths.binary("alertmanager"),
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        data.parent,
    )
