"""Errors name the field as the user wrote it, for both kinds, however pydantic found them."""

from __future__ import annotations

from typing import Any

import pytest

from pulse_operator import validation
from pulse_operator.api.metricscollector import MetricsCollectorSpec
from pulse_operator.api.slo import SLOSpec

SLO: dict[str, Any] = {
    "service": "api",
    "objective": 99,
    "window": "30d",
    "sli": {"ratio": {"errorQuery": "sum(rate(e[{{.window}}]))",
                      "totalQuery": "sum(rate(t[{{.window}}]))"}},
}  # fmt: skip
COLLECTOR: dict[str, Any] = {"collector": {"image": "example.com/app:1"}}


def paths(model: type[Any], raw: dict[str, Any]) -> list[str]:
    with pytest.raises(validation.SpecError) as raised:
        validation.parse_spec(model, raw)
    return [line.split(": ", 1)[0] for line in raised.value.problems]


@pytest.mark.parametrize(
    ("model", "raw", "expected"),
    [
        (SLOSpec, {**SLO, "ruleLabels": {"Team": "bad value!"}}, ["spec.ruleLabels[Team]"]),
        (SLOSpec, {**SLO, "alerting": {"annotations": {"x": 1}}}, ["spec.alerting.annotations[x]"]),
        (SLOSpec, {**SLO, "sli": {"latency": {"metric": "h"}}}, ["spec.sli.latency.threshold"]),
        (MetricsCollectorSpec, {**COLLECTOR, "monitor": {"labels": {"Tier": 1}}},
         ["spec.monitor.labels[Tier]"]),
        (MetricsCollectorSpec,
         {"collector": {"image": "a:1", "ports": [{"name": "web", "containerPort": "x"}]}},
         ["spec.collector.ports[0].containerPort"]),
        (MetricsCollectorSpec, {**COLLECTOR, "sinks": [{"name": "a", "remoteWrite": {"url": "x"}}]},
         ["spec.sinks[0].remoteWrite.url"]),
    ],
)  # fmt: skip
def test_the_path_is_the_users_yaml_path(
    model: type[Any], raw: dict[str, Any], expected: list[str]
) -> None:
    assert paths(model, raw) == expected
