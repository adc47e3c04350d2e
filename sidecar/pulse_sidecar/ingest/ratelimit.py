"""A token bucket per caller: bursts up to the limit, refilled evenly over a minute."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Quota:
    """What a caller may still do; the values of the X-RateLimit-* and Retry-After headers."""

    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int
    """Whole seconds until one request is allowed again (0 when one is allowed now)."""
    reset_seconds: float
    """Seconds until the bucket is full again."""

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` requests per minute per bucket key, with bursts up to `per_minute`.

    Buckets are keyed by API key id, a bounded set (the configured keys, or one loopback
    bucket), so they are never evicted.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> Quota:
        """Spends one token of `key`'s bucket if there is one."""
        bucket = self._refilled(key)
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        return self._quota(bucket, allowed)

    def peek(self, key: str) -> Quota:
        """The quota of `key` without spending anything."""
        bucket = self._refilled(key)
        return self._quota(bucket, bucket.tokens >= 1)

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self._capacity, now))
        bucket.tokens = min(
            self._capacity, bucket.tokens + (now - bucket.updated) * self._per_second
        )
        bucket.updated = now
        return bucket

    def _quota(self, bucket: _Bucket, allowed: bool) -> Quota:
        missing_for_one = max(0.0, 1 - bucket.tokens)
        return Quota(
            allowed=allowed,
            limit=int(self._capacity),
            remaining=int(bucket.tokens),
            retry_after_seconds=math.ceil(missing_for_one / self._per_second),
            reset_seconds=round((self._capacity - bucket.tokens) / self._per_second, 3),
        )
