"""Where samples come from: targets in the pod, the sidecar's own collectors, and checks."""


class CollectionError(Exception):
    """A source could not be collected this time; `reason` is a short label value.

    Defined with the sources that raise it, so that they need nothing from the pipeline
    above them, which catches it.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
