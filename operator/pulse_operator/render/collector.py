"""A MetricsCollector into its children: ConfigMap, Deployment, Service, monitor, alerts."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from pulse_operator import validation
from pulse_operator.api import registry
from pulse_operator.api.common import canonical_quantity
from pulse_operator.api.container import CollectorResources, Resources, SidecarResources
from pulse_operator.api.kinds import PROMETHEUS_OPERATOR
from pulse_operator.api.metricscollector import SIDECAR_PORT_NAME, MetricsCollectorSpec
from pulse_operator.api.objects import COLLECTOR_COMPONENT, Owner
from pulse_operator.render import credentials
from pulse_operator.render import sidecar_config as cfg
from pulse_operator.render.collector_alerts import collector_rule
from pulse_operator.render.meta import child_metadata, selector_labels
from pulse_operator.settings import OperatorSettings

SIDECAR_CONTAINER = "pulse-sidecar"
COLLECTOR_CONTAINER = "collector"
CONFIG_HASH_ANNOTATION = "pulse.dev/config-hash"
NONROOT_UID = 65532


def _resources(resources: Resources) -> dict[str, Any]:
    """Defaults overlaid with what the user set, amount by amount, in the canonical form
    the API server stores (so '0.5' applied is not '500m' drifted)."""
    return {
        kind: {name: canonical_quantity(amount) for name, amount in resources.merged(kind).items()}
        for kind in ("requests", "limits")
    }


def _restricted_security_context() -> dict[str, Any]:
    """What the `restricted` Pod Security Standard asks of each container, plus a
    read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def render_config_map(owner: Owner, spec: MetricsCollectorSpec) -> dict[str, Any]:
    config = cfg.sidecar_config(owner.name, owner.namespace, spec)
    text = yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(owner, COLLECTOR_COMPONENT, f"{owner.name}-sidecar"),
        "data": {cfg.CONFIG_FILE: text},
    }


def _placement(spec: MetricsCollectorSpec) -> dict[str, Any]:
    """nodeSelector and tolerations, only when set, so existing pod templates keep their hash."""
    placement: dict[str, Any] = {}
    if spec.node_selector:
        placement["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        placement["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations
        ]
    return placement


def render_deployment(
    owner: Owner, spec: MetricsCollectorSpec, settings: OperatorSettings, config_map: dict[str, Any]
) -> dict[str, Any]:
    """The pods: the user's container and the sidecar, restricted, with probes and limits."""
    config_hash = hashlib.sha256(config_map["data"][cfg.CONFIG_FILE].encode()).hexdigest()[:16]
    secret_volumes, secret_mounts = credentials.volumes_and_mounts(spec)
    user = spec.collector
    collector: dict[str, Any] = {
        "name": COLLECTOR_CONTAINER,
        "image": user.image,
        "resources": _resources(user.resources or CollectorResources()),
        "securityContext": _restricted_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if user.command:
        collector["command"] = list(user.command)
    if user.args:
        collector["args"] = list(user.args)
    if user.env:
        collector["env"] = [env.model_dump(by_alias=True, exclude_none=True) for env in user.env]
    if user.ports:
        collector["ports"] = [port.model_dump(by_alias=True) for port in user.ports]
    if user.liveness_probe:
        collector["livenessProbe"] = user.liveness_probe.manifest()
    if user.readiness_probe:
        collector["readinessProbe"] = user.readiness_probe.manifest()

    port = spec.sidecar.port
    sidecar = {
        "name": SIDECAR_CONTAINER,
        "image": spec.sidecar.image or settings.sidecar_image,
        "args": ["--config", str(credentials.CONFIG_DIR / cfg.CONFIG_FILE)],
        "env": [
            {
                "name": "PULSE_SIDECAR__COLLECTOR__POD",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            }
        ],
        "ports": [{"name": SIDECAR_PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": SIDECAR_PORT_NAME},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
        },
        # probed early and often: on the real node a collector went from applied to Ready
        # in 8.3 s (p50) with a 5 s initial delay and period, 2.5 s with these
        # (bench/bench_real_pods.py); the probe is a local HTTP GET, cheap every 2 s
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": SIDECAR_PORT_NAME},
            "initialDelaySeconds": 1,
            "periodSeconds": 2,
        },
        "resources": _resources(spec.sidecar.resources or SidecarResources()),
        "securityContext": _restricted_security_context(),
        "volumeMounts": [
            {"name": "config", "mountPath": str(credentials.CONFIG_DIR / cfg.CONFIG_FILE),
             "subPath": cfg.CONFIG_FILE, "readOnly": True},
            {"name": "spool", "mountPath": str(cfg.SPOOL_DIR)},
            {"name": "tmp", "mountPath": "/tmp"},
            *secret_mounts,
        ],
    }  # fmt: skip
    # The spool may fill its limit; leave room for SQLite's journal beside it.
    spool_size_mib = spec.buffer.spool_max_bytes * 5 // 4 // (1024 * 1024) + 1
    selector = selector_labels(owner, COLLECTOR_COMPONENT)
    metadata = child_metadata(owner, COLLECTOR_COMPONENT, owner.name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            **({} if spec.autoscaling.external else {"replicas": spec.replicas}),
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": dict(metadata["labels"]),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": NONROOT_UID,
                        "runAsGroup": NONROOT_UID,
                        "fsGroup": NONROOT_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    **_placement(spec),
                    "automountServiceAccountToken": False,
                    # no {SERVICE}_PORT=tcp://... variables: a Service named like the
                    # collector's own settings prefix (demo -> DEMO_PORT) would override them
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "containers": [collector, sidecar],
                    "volumes": [
                        {"name": "config", "configMap": {"name": config_map["metadata"]["name"]}},
                        {"name": "spool", "emptyDir": {"sizeLimit": f"{spool_size_mib}Mi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        *secret_volumes,
                    ],
                },
            },
        },
    }


def render_service(owner: Owner, spec: MetricsCollectorSpec) -> dict[str, Any]:
    ports = [
        {"name": SIDECAR_PORT_NAME, "port": spec.sidecar.port, "targetPort": SIDECAR_PORT_NAME,
         "protocol": "TCP"},
        *(
            {"name": p.name, "port": p.container_port, "targetPort": p.name, "protocol": p.protocol}
            for p in spec.collector.ports
        ),
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, COLLECTOR_COMPONENT, owner.name),
        "spec": {"selector": selector_labels(owner, COLLECTOR_COMPONENT), "ports": ports},
    }


def _collector_relabeling(owner: Owner) -> list[dict[str, Any]]:
    """Adds `collector` to every scraped series, which the alerts select on."""
    return [{"targetLabel": "collector", "replacement": owner.name, "action": "replace"}]


TELEMETRY_SERIES = "collector_.*"
"""The names of the series the sidecar reports about itself, which it never relays."""


def _only_telemetry_when_relayed(spec: MetricsCollectorSpec) -> dict[str, Any]:
    """With a remote-write sink, events, resource usage and scraped targets reach Prometheus
    by remote write; scraped from /metrics as well they would be a second copy of every
    series under other labels, and every sum over them would count twice."""
    if not any(sink.remote_write is not None for sink in spec.sinks):
        return {}
    keep = {"sourceLabels": ["__name__"], "regex": TELEMETRY_SERIES, "action": "keep"}
    return {"metricRelabelings": [keep]}


def render_monitor(
    owner: Owner, spec: MetricsCollectorSpec, settings: OperatorSettings
) -> dict[str, Any] | None:
    """A ServiceMonitor or PodMonitor for the sidecar's /metrics, or None."""
    monitor = spec.monitor
    if monitor.kind == "None":
        return None
    endpoint = {
        "port": SIDECAR_PORT_NAME,
        "path": "/metrics",
        "interval": monitor.interval,
        "relabelings": _collector_relabeling(owner),
        **_only_telemetry_when_relayed(spec),
    }
    key = "endpoints" if monitor.kind == "ServiceMonitor" else "podMetricsEndpoints"
    return {
        "apiVersion": PROMETHEUS_OPERATOR,
        "kind": monitor.kind,
        "metadata": child_metadata(
            owner,
            COLLECTOR_COMPONENT,
            owner.name,
            extra_labels={**settings.selector_labels, **spec.selector_labels},
        ),
        "spec": {
            "selector": {"matchLabels": selector_labels(owner, COLLECTOR_COMPONENT)},
            key: [endpoint],
        },
    }


def render_collector(
    owner: Owner, spec: MetricsCollectorSpec, settings: OperatorSettings
) -> list[dict[str, Any]]:
    """Every child of one MetricsCollector, complete, in the order they should be applied."""
    config_map = render_config_map(owner, spec)
    children = [
        config_map,
        render_deployment(owner, spec, settings, config_map),
        render_service(owner, spec),
    ]
    monitor = render_monitor(owner, spec, settings)
    if monitor is not None:
        children.append(monitor)
    if spec.alerting.enabled:
        children.append(collector_rule(owner, spec, settings))
    return children


def parse_and_render_collector(
    owner: Owner, raw_spec: Any, settings: OperatorSettings
) -> tuple[MetricsCollectorSpec, list[dict[str, Any]]]:
    """The spec as the models read it, and its children. Raises SpecError naming the field,
    also when the sidecar's own model refuses the configuration rendered from the spec."""
    spec = validation.parse_object(
        MetricsCollectorSpec, registry.METRICS_COLLECTOR.name_rule, owner.name, raw_spec
    )
    return spec, render_collector(owner, spec, settings)
