"""The `spec` of an SLO resource (pulse.dev/v1alpha1).

The CRD schema is generated from these models, so the constraints below are what the API
server enforces at admission. Rules that span fields are written twice: as CEL in
`x-kubernetes-validations` (admission) and as a model validator (offline `render`), with the
same message, so both paths give the same answer.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from pulse_operator.api.common import ApiModel, cel
from pulse_operator.api.labels import (
    SELECTOR_LABELS_DESCRIPTION,
    AlertAnnotations,
    AlertLabels,
    ObjectLabels,
    reserved,
)
from pulse_operator.api.rules import Rule

WINDOW_PLACEHOLDER = r"\{\{ *\.window *\}\}"
"""Where a ratio query's range goes; the generator substitutes each window it records."""

RESERVED_ALERT_LABELS = (
    "alertname", "severity", "slo", "service", "namespace", "long_window", "short_window",
)  # fmt: skip
"""Labels Pulse (or Prometheus: alertname) sets on every SLOErrorBudgetBurn alert."""

_MATCHER = r"""[a-zA-Z_][a-zA-Z0-9_]* *(=|!=|=~|!~) *("([^"\\]|\\.)*"|'([^'\\]|\\.)*'|`[^`]*`)"""
MATCHERS_PATTERN = rf"^ *({_MATCHER} *(, *{_MATCHER} *)*,? *)?$"
"""Label matchers without braces: what a selector may be, so it cannot end the braces."""
_NO_BUCKET_BOUND = Rule(
    cel="!self.matches('(^|,) *le *(=|!=|=~|!~)')",
    message="must not match on le: Pulse picks the bucket of the threshold itself",
    holds=lambda selector: re.search(r"(^|,) *le *(=|!=|=~|!~)", selector) is None,
)
_HISTOGRAM_BASE_NAME = Rule(
    cel="!self.endsWith('_bucket') && !self.endsWith('_count') && !self.endsWith('_sum')",
    message="must be the histogram's base name, without _bucket, _count or _sum",
    holds=lambda metric: not metric.endswith(("_bucket", "_count", "_sum")),
)

_MAX_QUERY_LENGTH = 4096

PromQL = Annotated[str, Field(min_length=1, max_length=_MAX_QUERY_LENGTH)]
WindowedPromQL = Annotated[PromQL, Field(pattern=WINDOW_PLACEHOLDER)]


_ONE_OF_ERROR_OR_GOOD = "set exactly one of errorQuery and goodQuery"


class RatioSLI(ApiModel):
    """Events counted by two PromQL expressions: bad (or good) ones and all of them."""

    model_config = cel(("has(self.errorQuery) != has(self.goodQuery)", _ONE_OF_ERROR_OR_GOOD))

    error_query: WindowedPromQL | None = Field(
        default=None,
        description=(
            "PromQL for the rate of bad events, with {{.window}} where the range goes, e.g. "
            'sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}])). '
            "A missing series counts as zero errors. Set this or goodQuery."
        ),
    )
    good_query: WindowedPromQL | None = Field(
        default=None,
        description=(
            "PromQL for the rate of good events, with {{.window}} where the range goes. "
            "Bad events are then totalQuery minus goodQuery. Set this or errorQuery."
        ),
    )
    total_query: WindowedPromQL = Field(
        description=(
            "PromQL for the rate of all events, with {{.window}} where the range goes, e.g. "
            'sum(rate(http_requests_total{job="api"}[{{.window}}])).'
        ),
    )

    @model_validator(mode="after")
    def _one_of_error_or_good(self) -> Self:
        if (self.error_query is None) == (self.good_query is None):
            raise ValueError(_ONE_OF_ERROR_OR_GOOD)
        return self


class LatencySLI(ApiModel):
    """Requests from a Prometheus histogram; good ones took at most `threshold`."""

    metric: Annotated[str, _HISTOGRAM_BASE_NAME] = Field(
        pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$",
        max_length=200,
        description=(
            "Base name of the histogram, without the _bucket or _count suffix, e.g. "
            "http_request_duration_seconds."
        ),
    )
    threshold: float = Field(
        gt=0,
        allow_inf_nan=False,
        description=(
            "Slowest good request, in the histogram's unit (usually seconds), e.g. 0.2. It must "
            "be one of the histogram's bucket bounds (an `le` value): if no bucket matches, the "
            "SLI has no data and no alert can fire."
        ),
    )
    selector: Annotated[str, _NO_BUCKET_BOUND] = Field(
        default="",
        max_length=_MAX_QUERY_LENGTH,
        pattern=MATCHERS_PATTERN,
        description=(
            "PromQL label matchers without braces that pick the requests, e.g. "
            'job="checkout",route!="/health". Empty means every series of the histogram.'
        ),
    )


class AvailabilitySLI(ApiModel):
    """Time-based: the share of time (and targets) a 0/1 health series reads 1."""

    query: PromQL = Field(
        description=(
            'PromQL returning 1 for up and 0 for down per target, e.g. up{job="checkout"} or '
            'probe_success{instance="https://shop.example.com"}. Averaged over the targets.'
        ),
    )


class FreshnessSLI(ApiModel):
    """Time-based: the share of time data is at most `maxLagSeconds` old."""

    query: PromQL = Field(
        description=(
            "PromQL for a gauge: the Unix time of the last successful update, or the lag in "
            'seconds (see measure), e.g. pipeline_last_success_timestamp_seconds{pipeline="x"}.'
        ),
    )
    measure: Literal["LastSuccessTimestamp", "LagSeconds"] = Field(
        default="LastSuccessTimestamp",
        description=(
            "What the query returns: LastSuccessTimestamp (Unix seconds; the lag is now minus "
            "it) or LagSeconds (the lag itself)."
        ),
    )
    max_lag_seconds: float = Field(
        gt=0,
        allow_inf_nan=False,
        description="Largest lag, in seconds, that still counts as fresh, e.g. 60.",
    )


class SaturationSLI(ApiModel):
    """Time-based: the share of time (and instances) utilization stays at or under a ceiling."""

    query: PromQL = Field(
        description=(
            "PromQL for utilization, one series per instance, e.g. 1 - avg by (instance) "
            '(rate(node_cpu_seconds_total{mode="idle"}[5m])).'
        ),
    )
    ceiling: float = Field(
        gt=0,
        allow_inf_nan=False,
        description=(
            "Highest good utilization, in the query's unit, e.g. 0.8 for 80% when the query "
            "returns a ratio."
        ),
    )


SLI_KINDS = ("ratio", "latency", "availability", "freshness", "saturation")
_ONE_SLI_KIND = f"exactly one of {', '.join(SLI_KINDS)} must be set"


class SLI(ApiModel):
    """How good and bad are measured: exactly one kind."""

    model_config = cel(
        (
            "[" + ", ".join(f"has(self.{kind})" for kind in SLI_KINDS) + "]"
            ".filter(x, x).size() == 1",
            _ONE_SLI_KIND,
        )
    )

    ratio: RatioSLI | None = Field(
        default=None, description="Bad (or good) events over total events, from two queries."
    )
    latency: LatencySLI | None = Field(
        default=None, description="Share of requests of a histogram at or under a threshold."
    )
    availability: AvailabilitySLI | None = Field(
        default=None, description="Share of time a 0/1 up-style series reads 1."
    )
    freshness: FreshnessSLI | None = Field(
        default=None, description="Share of time data is fresher than a maximum lag."
    )
    saturation: SaturationSLI | None = Field(
        default=None, description="Share of time utilization stays at or under a ceiling."
    )

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Self:
        if sum(getattr(self, kind) is not None for kind in SLI_KINDS) != 1:
            raise ValueError(_ONE_SLI_KIND)
        return self

    @property
    def kind(self) -> str:
        """The name of the kind that is set, e.g. "ratio"."""
        return next(kind for kind in SLI_KINDS if getattr(self, kind) is not None)

    @property
    def selected(self) -> RatioSLI | LatencySLI | AvailabilitySLI | FreshnessSLI | SaturationSLI:
        """The settings of the kind that is set."""
        selected: RatioSLI | LatencySLI | AvailabilitySLI | FreshnessSLI | SaturationSLI = getattr(
            self, self.kind
        )
        return selected


class Alerting(ApiModel):
    """Which SLOErrorBudgetBurn alerts exist, and what they carry for routing."""

    page: bool = Field(
        default=True,
        description=(
            "Create the two critical (paging) alerts: fast burns over 1h/5m and 6h/30m for a "
            "30d window."
        ),
    )
    ticket: bool = Field(
        default=True,
        description=(
            "Create the two warning (ticket) alerts: slow burns over 1d/2h and 3d/6h for a 30d "
            "window."
        ),
    )
    labels: Annotated[AlertLabels, reserved(RESERVED_ALERT_LABELS)] = Field(
        default_factory=dict,
        description=(
            "Extra labels on every alert, for routing, e.g. team: payments; Go templates as in "
            f"Prometheus. Must not set {', '.join(RESERVED_ALERT_LABELS)}."
        ),
    )
    annotations: AlertAnnotations = Field(
        default_factory=dict,
        description=(
            "Extra annotations on every alert; they replace Pulse's of the same name, e.g. "
            "runbook_url pointing at your own runbook."
        ),
    )


class SLOSpec(ApiModel):
    """An objective for one service, turned into recording rules and burn-rate alerts."""

    service: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        description="The service this SLO is about; the `service` label of its series and alerts.",
    )
    description: str | None = Field(
        default=None,
        max_length=1024,
        description="What the objective promises, in a sentence for the people it serves.",
    )
    objective: float = Field(
        gt=0,
        lt=100,
        description=(
            "Percentage of good events (or of good time) promised over the window, strictly "
            "between 0 and 100, e.g. 99.9. The error budget is 100 minus it."
        ),
    )
    window: str = Field(
        default="30d",
        pattern=r"^([1-9]|[1-8][0-9]|90)d$",
        description=(
            "Rolling window the objective is measured over: whole days from 1d to 90d. The "
            "alert windows scale with it (see docs/slo.md)."
        ),
    )
    sli: SLI = Field(description="How good and bad events (or time) are measured.")
    alerting: Alerting = Field(
        default_factory=Alerting,
        description="Which burn-rate alerts to create, and their extra labels and annotations.",
    )
    selector_labels: ObjectLabels = Field(
        default_factory=dict, description=SELECTOR_LABELS_DESCRIPTION
    )

    @property
    def window_days(self) -> int:
        """The window as a number of days."""
        return int(self.window.removesuffix("d"))
