"""The operator's configuration, read once from the environment and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pulse_operator import __version__


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use."""


@dataclass(frozen=True)
class OperatorSettings:
    """Everything the renderers and handlers need beyond a resource's own spec."""

    sidecar_image: str = f"pulse-sidecar:{__version__}"
    """Sidecar image for MetricsCollectors that do not name one (PULSE_SIDECAR_IMAGE)."""

    runbook_base_url: str = "https://github.com/pulse-dev/pulse/blob/main/docs/runbooks"
    """Where the runbooks of generated alerts live (PULSE_RUNBOOK_BASE_URL): point it at
    your own copy of docs/runbooks/ to add local knowledge."""

    field_manager: str = "pulse-operator"
    """The one server-side-apply field manager every write uses."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        env = os.environ if env is None else env
        image = env.get("PULSE_SIDECAR_IMAGE", cls.sidecar_image)
        runbooks = env.get("PULSE_RUNBOOK_BASE_URL", cls.runbook_base_url).rstrip("/")
        if not image.strip():
            raise SettingsError("PULSE_SIDECAR_IMAGE must not be empty")
        if not runbooks.startswith(("http://", "https://")):
            raise SettingsError(f"PULSE_RUNBOOK_BASE_URL must be an http(s) URL, not {runbooks!r}")
        return cls(sidecar_image=image, runbook_base_url=runbooks)
