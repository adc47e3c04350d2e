"""Status built from the models: a field the CRD would prune cannot be written."""

from __future__ import annotations

import pydantic
import pytest
from tests.unit.operator.fake_kube import STATUS_SCHEMAS, prune

from pulse_operator import status
from pulse_operator.api.metricscollector import MetricsCollectorSpec, MetricsCollectorStatus

BODY = {"kind": "MetricsCollector", "metadata": {"name": "a", "generation": 3}, "status": {}}


def test_a_misspelt_status_field_fails_where_it_is_built() -> None:
    with pytest.raises(pydantic.ValidationError, match="readyReplica"):
        MetricsCollectorStatus(readyReplica=1)  # type: ignore[call-arg]


def test_every_field_of_a_built_status_survives_the_crds_pruning() -> None:
    built = status.collector_status(
        status.Observed(BODY, now="2026-01-01T00:00:00Z"),
        MetricsCollectorSpec.model_validate({"collector": {"image": "a:1"}}),
        children=[],
        skipped=[],
        deployment={"metadata": {"generation": 1}, "spec": {"replicas": 1},
                    "status": {"observedGeneration": 1, "availableReplicas": 1,
                               "updatedReplicas": 1, "readyReplicas": 1, "replicas": 1}},
        pods=[],
    )  # fmt: skip
    document = status.document(built)
    assert set(document) == {
        "observedGeneration", "conditions", "children", "sinks", "replicas", "readyReplicas",
    }  # fmt: skip
    assert prune(document, STATUS_SCHEMAS["MetricsCollector"]) == document


def test_a_transition_time_moves_only_when_the_status_does() -> None:
    before = {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
    observed = status.Observed(
        {**BODY, "status": {"conditions": [before]}}, now="2026-01-01T00:00:00Z"
    )
    (same,) = observed.conditions([status.ConditionUpdate("Ready", "True", "Available")])
    (moved,) = observed.conditions([status.ConditionUpdate("Ready", "False", "PodsNotReady")])
    assert same.last_transition_time == "2025-01-01T00:00:00Z"
    assert moved.last_transition_time == "2026-01-01T00:00:00Z"
    assert moved.observed_generation == 3
