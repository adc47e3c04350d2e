"""Errors name the field as the user wrote it, for both kinds, however pydantic found them."""

from __future__ import annotations

from typing import Any

import pytest

from pulse_operator import validation
from pulse_operator.api.metricscollector import MetricRelabeling, MetricsCollectorSpec
from pulse_operator.api.slo import SLOSpec
from pulse_operator.render import sidecar_config

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
        (SLOSpec, {**SLO, "selectorLabels": {"Team": "bad value!"}}, ["spec.selectorLabels[Team]"]),
        (SLOSpec, {**SLO, "alerting": {"annotations": {"x": 1}}}, ["spec.alerting.annotations[x]"]),
        (SLOSpec, {**SLO, "sli": {"latency": {"metric": "h"}}}, ["spec.sli.latency.threshold"]),
        (MetricsCollectorSpec, {**COLLECTOR, "selectorLabels": {"Tier": 1}},
         ["spec.selectorLabels[Tier]"]),
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


def test_what_only_the_sidecars_model_refuses_is_reported_at_the_users_field() -> None:
    # the MetricsCollector model refuses both first; model_copy skips it, as a drift between
    # the two models would
    spec = validation.parse_spec(
        MetricsCollectorSpec,
        {"collector": {"image": "example.com/app:1"},
         "sinks": [{"name": "rw", "remoteWrite": {"url": "http://prometheus:9090/write"}}],
         "scrape": {"targets": [{"port": 9102}]}},
    )  # fmt: skip
    sink = spec.sinks[0]
    assert sink.remote_write is not None
    target = spec.scrape.targets[0]
    unreadable = MetricRelabeling.model_construct(action="drop", regex="go_(")
    drifted = spec.model_copy(
        update={
            "sinks": [sink.model_copy(update={
                "remote_write": sink.remote_write.model_copy(update={"url": "http://p:99999/"})
            })],
            "ingest": spec.ingest.model_copy(update={"allowed_types": ["login event"]}),
            "scrape": spec.scrape.model_copy(update={
                "targets": [target.model_copy(update={"metric_relabelings": [unreadable]})]
            }),
        }
    )  # fmt: skip
    with pytest.raises(validation.SpecError) as raised:
        sidecar_config.sidecar_config("web", "shop", drifted)
    fields = sorted(problem.split(": ")[0] for problem in raised.value.problems)
    assert fields == [
        "spec.ingest.allowedTypes[0]",
        "spec.scrape.targets[0].metricRelabelings[0]",
        "spec.sinks[0].remoteWrite.url",
    ]
