"""API keys, held only as SHA-256 digests and compared in constant time.

Keys come from a mounted Secret, one key per file. A memory dump or a debug endpoint can then
leak at most digests, and comparing every digest without an early exit keeps the answer time
independent of how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path

LOOPBACK_BUCKET = "loopback"
"""The one rate-limit bucket that loopback callers share when no keys are configured."""


class ApiKeys:
    """The accepted keys; `identify` maps a presented key to a stable, non-secret id.

    Kubernetes updates a mounted Secret in place, so `reload` is called periodically and a
    rotated key takes effect without a restart.
    """

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._digests: list[bytes] = []
        self.reload()

    def reload(self) -> None:
        """Reads the keys again, one per file; raises OSError if the directory cannot be read.

        Names starting with a dot are the Secret volume's own bookkeeping (`..data`) and are
        skipped; surrounding whitespace (a trailing newline) is not part of a key.
        """
        if self._directory is None:
            return
        digests = []
        for path in sorted(self._directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            key = path.read_bytes().strip()
            if key:
                digests.append(hashlib.sha256(key).digest())
        self._digests = digests

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def identify(self, presented: str | None) -> str | None:
        """A short id of the matching key (a digest prefix), or None if no key matches."""
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        match = None
        for candidate in self._digests:
            if hmac.compare_digest(candidate, digest):
                match = candidate
        return None if match is None else match.hex()[:16]


def is_loopback(remote: str | None) -> bool:
    """Whether the caller's address is a loopback address (127.0.0.0/8 or ::1)."""
    if remote is None:
        return False
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
