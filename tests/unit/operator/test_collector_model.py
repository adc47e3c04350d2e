"""The MetricsCollector models reject exactly what the CRD rejects, naming the same field."""

from __future__ import annotations

import pytest
from tests.collector_cases import INVALID_COLLECTORS, VALID_SPEC, InvalidCase

from pulse_operator import validation
from pulse_operator.api.metricscollector import MetricsCollectorSpec


def test_the_base_spec_of_the_cases_is_valid_and_gets_the_documented_defaults() -> None:
    spec = validation.parse_spec(MetricsCollectorSpec, VALID_SPEC)
    assert spec.replicas == 1
    assert spec.sidecar.port == 8000
    assert spec.circuit_breaker.failure_threshold == 5
    assert spec.circuit_breaker.open_seconds == 30
    assert spec.circuit_breaker.max_open_seconds == 300
    assert spec.alerting.error_rate_threshold == 0.1


@pytest.mark.parametrize("case", INVALID_COLLECTORS, ids=lambda case: case.id)
def test_an_invalid_spec_is_refused_offline_naming_the_field(case: InvalidCase) -> None:
    with pytest.raises(validation.SpecError) as raised:
        validation.parse_spec(MetricsCollectorSpec, case.spec())
    named = [line.split(": ", 1)[0] for line in raised.value.problems]
    assert any(path == case.field or path.startswith(case.field) for path in named), (
        raised.value.problems
    )
