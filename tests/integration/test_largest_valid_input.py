"""The other side of the invalid-input suite: the largest and oddest specs the schemas
admit are admitted, and every child `render` makes of them is accepted by the real API
server (names, labels, sizes) and every PrometheusRule by the real promtool. A bound in
the CRD that let through something a child cannot carry would fail here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulse_devcluster.cluster import LocalCluster
from tests.integration.conftest import Promtool

from pulse_operator.api.labels import MAX_ALERT_LABEL_VALUE, MAX_ANNOTATION_VALUE, MAX_ENTRIES
from pulse_operator.api.objects import Owner
from pulse_operator.render.collector import parse_and_render_collector
from pulse_operator.render.slo import parse_and_render_slo
from pulse_operator.settings import OperatorSettings

LONGEST_COLLECTOR_NAME = "collector-" + "x" * 53  # 63 characters, the most a Service name has
LONGEST_SLO_NAME = "checkout.latency." + "s" * 46  # 63 characters, with dots
TEMPLATE = "{{ $labels.namespace }}/{{ $labels.collector }}"


def _largest_collector() -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": "http", "httpHeaders": [
        {"name": f"X-Probe-{i}", "value": "v" * 1024} for i in range(16)]}}  # fmt: skip
    return {
        "collector": {
            "image": "registry.example.com:5000/team/app-collector:1.2.3@sha256:" + "a" * 64,
            "command": ["c" * 2048] * 32,
            "args": ["a" * 2048] * 128,
            "env": [
                {"name": "TZ", "value": "v" * 4096},
                {"name": "MY.VAR-1 x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                    "divisor": "1Mi"}}},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t",
                                                                 "optional": True}}},
                *({"name": f"V{i}", "value": "x" * 4096} for i in range(124)),
            ],
            "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 8080, "protocol": "UDP"},
                *({"name": f"p{i}", "containerPort": 9000 + i} for i in range(14)),
            ],
            "resources": {"requests": {"cpu": "0.5", "memory": "512Mi"}},
            "livenessProbe": {**probe, "successThreshold": 1, "terminationGracePeriodSeconds": 5},
            "readinessProbe": {"tcpSocket": {"port": 8080}, "successThreshold": 3},
        },
        "nodeSelector": {f"example.com/{'k' * 50}{i:02d}": "v" * 63 for i in range(MAX_ENTRIES)},
        "sidecar": {"image": "localhost/pulse-sidecar:dev",
                    "resources": {"limits": {"memory": "64Mi"}}},
        "ingest": {"allowedTypes": ["e" * 128] * 256},
        "alerting": {
            "labels": {f"l{i}": TEMPLATE.ljust(MAX_ALERT_LABEL_VALUE, "x")
                       for i in range(MAX_ENTRIES)},
        },
        "selectorLabels": {f"team.example.com/r{i}": "v" * 63 for i in range(MAX_ENTRIES)},
    }  # fmt: skip


def _largest_slo() -> dict[str, Any]:
    return {
        "service": "s" * 63,
        "objective": 99.95,
        "description": "d" * 1024,
        "window": "90d",
        "sli": {"latency": {"metric": "http_request_duration_seconds", "threshold": 0.25,
                            "selector": "job='api', route=~\"/a|/b\", env!=`dev`,"}},
        "alerting": {
            "labels": {f"l{i}": "{{ $labels.service }}".ljust(MAX_ALERT_LABEL_VALUE, "x")
                       for i in range(MAX_ENTRIES)},
            "annotations": {f"a{i}": "{{ $value | humanizePercentage }}".ljust(
                MAX_ANNOTATION_VALUE, "x") for i in range(MAX_ENTRIES)},
        },
        "selectorLabels": {f"r{i}": "v" * 63 for i in range(MAX_ENTRIES)},
    }  # fmt: skip


def _rendered() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(kind, the resource, its children) for both kinds' largest specs."""
    settings = OperatorSettings()
    collector = Owner("MetricsCollector", LONGEST_COLLECTOR_NAME, "default", "uid-1")
    slo = Owner("SLO", LONGEST_SLO_NAME, "default", "uid-2")
    return [
        ("MetricsCollector", _largest_collector(),
         parse_and_render_collector(collector, _largest_collector(), settings)[1]),
        ("SLO", _largest_slo(), parse_and_render_slo(slo, _largest_slo(), settings)[1]),
    ]  # fmt: skip


CASES = _rendered()


@pytest.mark.parametrize(("kind", "spec", "children"), CASES, ids=[c[0] for c in CASES])
def test_the_largest_spec_and_every_child_made_of_it_are_admitted(
    cluster: LocalCluster, tmp_path: Path, kind: str, spec: dict[str, Any],
    children: list[dict[str, Any]],
) -> None:  # fmt: skip
    name = LONGEST_COLLECTOR_NAME if kind == "MetricsCollector" else LONGEST_SLO_NAME
    resource = {"apiVersion": "pulse.dev/v1alpha1", "kind": kind,
                "metadata": {"name": name, "namespace": "default"}, "spec": spec}  # fmt: skip
    documents = [resource, *children]
    manifest = tmp_path / "all.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}))
    applied = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "--field-manager=edge", "-f", manifest
    )
    assert applied.stdout.count("serverside-applied") == len(documents), applied.stdout


@pytest.mark.parametrize(("kind", "spec", "children"), CASES, ids=[c[0] for c in CASES])
def test_every_rule_rendered_from_the_largest_spec_passes_promtool(
    promtool: Promtool, tmp_path: Path, kind: str, spec: dict[str, Any],
    children: list[dict[str, Any]],
) -> None:  # fmt: skip
    rules = [child for child in children if child["kind"] == "PrometheusRule"]
    assert rules
    for number, rule in enumerate(rules):
        path = tmp_path / f"rule-{number}.yaml"
        path.write_text(yaml.safe_dump(rule["spec"]))
        promtool("check", "rules", path)
