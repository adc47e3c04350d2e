"""The values the chart is rendered with in the golden, lint and checkov tests: the
defaults and each important switch."""

from __future__ import annotations

from typing import Any

DIGEST = "sha256:" + "0123456789abcdef" * 4

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "high-availability": {"replicaCount": 2, "peering": {"enabled": True}},
    "high-availability-namespaced": {
        "replicaCount": 2,
        "peering": {"enabled": True, "name": "pulse-peers"},
        "watchNamespaces": ["team-a"],
    },
    "metrics": {
        "selectorLabels": {"release": "kube-prometheus-stack"},
        "prometheus": {"url": "http://prometheus-operated.monitoring:9090", "refreshSeconds": 120},
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        },
        "networkPolicy": {
            "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
        },
    },
    "pinned-images": {
        "image": {"repository": "acme/pulse-operator", "tag": "0.1.0", "digest": DIGEST},
        "sidecar": {"image": {"repository": "acme/pulse-sidecar", "digest": DIGEST}},
        "imagePullSecrets": ["acme-pull"],
        "verbose": True,
    },
}
