"""Names and labels of the series Pulse records for an SLO, shared by its rules and alerts.

Every series carries `slo`, `service` and `namespace`, and its name says what it holds, so
that a dashboard or an ad-hoc query can find any SLO's numbers without knowing its rules.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from pulse_operator.slo import windows

ERROR_EVENTS = "pulse_slo:sli_error_events:rate5m"
"""Bad events per second over 5m (ratio and latency SLIs)."""
TOTAL_EVENTS = "pulse_slo:sli_total_events:rate5m"
"""All events per second over 5m (ratio and latency SLIs)."""
ERROR_NOW = "pulse_slo:sli_error:ratio"
"""Share of targets bad at this evaluation (availability, freshness and saturation SLIs)."""
OBJECTIVE = "pulse_slo:objective:ratio"
ERROR_BUDGET = "pulse_slo:error_budget:ratio"
CURRENT_BURN_RATE = "pulse_slo:current_burn_rate:ratio"
"""The 5m error ratio over the error budget: 1 spends the budget exactly in the window."""
ERROR_BUDGET_REMAINING = "pulse_slo:error_budget_remaining:ratio"
"""1 minus the window's error ratio over the budget: below 0 once the budget is spent."""


def error_ratio(window: timedelta) -> str:
    """The name of the SLI error ratio over `window`, e.g. pulse_slo:sli_error:ratio_rate1h."""
    return f"{ERROR_NOW}_rate{windows.prometheus_duration(window)}"


@dataclasses.dataclass(frozen=True)
class SLOSeries:
    """Which SLO a series belongs to."""

    name: str
    namespace: str
    service: str

    @property
    def labels(self) -> dict[str, str]:
        """The labels every recorded series of this SLO carries."""
        return {"namespace": self.namespace, "service": self.service, "slo": self.name}

    def select(self, metric: str) -> str:
        """A PromQL selector for this SLO's series of `metric`."""
        return f"{metric}{{namespace={json.dumps(self.namespace)},slo={json.dumps(self.name)}}}"


def number(value: Decimal | Fraction) -> str:
    """A constant as written in rules and annotations: `0.001`, `14.4`, `6` (exact here)."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return format(value.normalize(), "f")
