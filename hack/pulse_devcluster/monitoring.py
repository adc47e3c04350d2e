"""The real Prometheus Operator against a LocalCluster, and what it generates.

Prometheus Operator decides which PrometheusRules a Prometheus loads: it writes the
selected ones into the Prometheus's rule-file ConfigMaps (`prometheus-<name>-rulefiles-N`,
one key `<namespace>-<name>-<uid>.yaml` per rule). Reading those is reading its decision,
which is what Pulse's `Selected` condition must agree with.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Any

from pulse_devcluster import paths
from pulse_devcluster.cluster import LocalCluster
from pulse_devcluster.processes import ManagedProcess, free_port

RELOADER_IMAGE = "prometheus-config-reloader:v0.85.0"
"""Named in the StatefulSets Prometheus Operator creates; no image is pulled for it here
(KWOK nodes run no containers)."""


def start_prometheus_operator(cluster: LocalCluster) -> ManagedProcess:
    """Starts `make tools`'s prometheus-operator with the cluster admin's certificate,
    watching every namespace; its log goes beside the cluster's. The caller stops it."""
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
        ],
        cluster.log_dir,
    )


def _get(cluster: LocalCluster, url_path: str) -> Any:
    assert cluster.pki is not None, "the cluster is not running"
    context = ssl.create_default_context(cafile=str(cluster.pki.ca.cert))
    context.load_cert_chain(str(cluster.pki.admin.cert), str(cluster.pki.admin.key))
    with urllib.request.urlopen(cluster.server + url_path, context=context, timeout=30) as answer:
        return json.loads(answer.read())


def loaded_rule_files(cluster: LocalCluster, namespace: str, prometheus: str) -> dict[str, str]:
    """The rule files Prometheus Operator generated for a Prometheus: file name -> content,
    from its `prometheus-<name>-rulefiles-N` ConfigMaps (none yet: empty)."""
    prefix = f"prometheus-{prometheus}-rulefiles-"
    found = _get(cluster, f"/api/v1/namespaces/{namespace}/configmaps")
    files: dict[str, str] = {}
    for item in found.get("items", []):
        if item["metadata"]["name"].startswith(prefix):
            files.update(item.get("data") or {})
    return files


def loaded_rules(files: Mapping[str, str], uids: Mapping[str, str]) -> set[str]:
    """Which of `uids` (a label, such as namespace/name, -> a PrometheusRule's uid) are in
    `loaded_rule_files`' answer: Prometheus Operator names each file
    `<namespace>-<name>-<uid>.yaml`, so the uid settles it."""
    return {label for label, uid in uids.items() if any(f.endswith(f"-{uid}.yaml") for f in files)}
