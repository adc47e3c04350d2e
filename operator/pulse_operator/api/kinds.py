"""Every kind the operator reads or writes, and where it lives in the REST API: the one
table that the API client, the watches and the renderers share."""

from __future__ import annotations

from dataclasses import dataclass

from pulse_operator.api.crd import API_VERSION

PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1"


def api_root(api_version: str) -> str:
    """The REST path of an API group version: /api/v1 for the core group, else /apis/..."""
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


@dataclass(frozen=True)
class Kind:
    """One kind: its apiVersion (group/version, or v1 for the core group) and plural."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def collection(self, namespace: str | None) -> str:
        """The REST path of this kind's objects in one namespace, or in all (None)."""
        if namespace is None:
            return f"{api_root(self.api_version)}/{self.plural}"
        return f"{api_root(self.api_version)}/namespaces/{namespace}/{self.plural}"


METRICS_COLLECTOR = Kind(API_VERSION, "MetricsCollector", "metricscollectors")
SLO = Kind(API_VERSION, "SLO", "slos")
OWNER_KINDS = (METRICS_COLLECTOR, SLO)
"""Pulse's own kinds: each owns children."""

CHILD_KINDS = (
    Kind("v1", "ConfigMap", "configmaps"),
    Kind("v1", "Service", "services"),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind(PROMETHEUS_OPERATOR, "ServiceMonitor", "servicemonitors"),
    Kind(PROMETHEUS_OPERATOR, "PodMonitor", "podmonitors"),
    Kind(PROMETHEUS_OPERATOR, "PrometheusRule", "prometheusrules"),
)
"""What Pulse creates for its owners; each is watched so a hand edit is restored."""

READ_ONLY_KINDS = (Kind("v1", "Secret", "secrets"), Kind("v1", "Pod", "pods"))
"""What Pulse only reads: referenced Secrets (metadata only) and a collector's pods."""

RULE_READERS = (
    Kind(PROMETHEUS_OPERATOR, "Prometheus", "prometheuses"),
    Kind(PROMETHEUS_OPERATOR, "ThanosRuler", "thanosrulers"),
)
"""What loads Pulse's rules and monitors: listed and watched cluster-wide, never written,
to say whether any of them selects what Pulse applied (the Selected condition)."""

KINDS = {kind.kind: kind for kind in (*OWNER_KINDS, *CHILD_KINDS, *READ_ONLY_KINDS, *RULE_READERS)}
