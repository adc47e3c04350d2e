"""Quantities are rendered as the API server stores them (checked against the real one in
tests/integration/test_quantities.py)."""

from __future__ import annotations

import pytest

from pulse_operator.api.common import canonical_quantity
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.objects import Owner
from pulse_operator.render.collector import render_config_map, render_deployment
from pulse_operator.settings import OperatorSettings


@pytest.mark.parametrize(
    ("written", "stored"),
    [("0.5", "500m"), ("1000m", "1"), ("0.5Gi", "512Mi"), ("1024Mi", "1Gi"), ("2000", "2k"),
     ("0.5Ki", "512"), ("1.5Gi", "1536Mi"), ("100m", "100m"), ("0", "0")],
)  # fmt: skip
def test_canonical_forms(written: str, stored: str) -> None:
    assert canonical_quantity(written) == stored


def test_the_deployment_carries_canonical_resources() -> None:
    owner = Owner("MetricsCollector", "a", "ns", "uid")
    resources = {"requests": {"cpu": "0.5", "memory": "0.5Gi"},
                 "limits": {"cpu": "1000m", "memory": "1024Mi"}}  # fmt: skip
    spec = MetricsCollectorSpec.model_validate(
        {"collector": {"image": "a:1", "resources": resources}}
    )
    deployment = render_deployment(owner, spec, OperatorSettings(), render_config_map(owner, spec))
    collector = deployment["spec"]["template"]["spec"]["containers"][0]
    assert collector["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
