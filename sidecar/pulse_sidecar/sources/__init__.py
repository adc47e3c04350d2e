"""Where samples come from: targets in the pod, the sidecar's own collectors, and checks."""

from __future__ import annotations

from collections.abc import Sequence

from pulse_sidecar import samples


class CollectionError(Exception):
    """A source could not be collected this time; `reason` is a short label value.

    Defined with the sources that raise it, so that they need nothing from the pipeline
    above them, which catches it. `samples` are still sent: what a failed scrape reports
    about itself (`up` 0), as Prometheus does.
    """

    def __init__(self, reason: str, message: str, report: Sequence[samples.Sample] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.samples = list(report)
