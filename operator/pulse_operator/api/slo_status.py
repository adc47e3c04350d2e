"""What the operator reports about an SLO."""

from __future__ import annotations

from pydantic import Field

from pulse_operator.api.common import ApiModel, ResourceStatus


class BurnRateWindow(ApiModel):
    """One pair of alert windows, as generated for this SLO's length."""

    severity: str = Field(description="critical (pages) or warning (tickets).")
    long_window: str = Field(description="The long window of the pair, e.g. 1h.")
    short_window: str = Field(description="The short window that makes the alert reset fast.")
    burn_rate_factor: float = Field(description="How many times faster than allowed.")
    budget_percent: float = Field(
        description="Share of the whole error budget spent in the long window when it fires."
    )
    error_ratio_threshold: float = Field(
        description="The error ratio both windows must exceed; at or above 1 it cannot fire."
    )
    enabled: bool = Field(description="Whether alerting is switched on for this severity.")


class SLOLive(ApiModel):
    """The SLO's numbers as the operator's Prometheus computes them now (PULSE_PROMETHEUS_URL),
    refreshed every period and rounded, so that steady numbers are not rewritten."""

    sli_percent: float | None = Field(
        default=None, description="The SLI over the whole window, in percent (3 decimals)."
    )
    error_budget_remaining_percent: float | None = Field(
        default=None,
        description="Error budget left over the window, in percent (1 decimal); below 0 "
        "once it is spent.",
    )
    burn_rates: dict[str, float] = Field(
        default_factory=dict,
        description="Burn rate over each alert window (window -> rate, 2 decimals): 1 spends "
        "exactly the budget in the SLO's window.",
    )
    budget_exhausted_at: str | None = Field(
        default=None,
        description="When the budget left runs out if the current (5m) burn rate holds, to "
        "10 minutes; absent while that burn rate is 1 or less.",
        json_schema_extra={"format": "date-time"},
    )


class SLOStatus(ResourceStatus):
    """What the operator last generated for the SLO."""

    sli_kind: str | None = Field(
        default=None, description="The kind of SLI: ratio, latency, availability, ..."
    )
    rules: int | None = Field(default=None, description="Rules in the generated PrometheusRule.")
    burn_rate_windows: list[BurnRateWindow] = Field(
        default_factory=list,
        description="The multi-window, multi-burn-rate table the alerts use.",
    )
    live: SLOLive | None = Field(
        default=None,
        description="Budget, SLI and burn rates from Prometheus, while its SLI has data "
        "(DataPresent=True); absent without PULSE_PROMETHEUS_URL.",
    )
