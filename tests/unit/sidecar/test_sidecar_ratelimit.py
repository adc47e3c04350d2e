"""The token bucket: bursts up to the limit, even refill, one bucket per key."""

from __future__ import annotations

from pulse_sidecar.ingest import ratelimit


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_of_the_limit_then_refuses() -> None:
    limiter = ratelimit.RateLimiter(60, FakeClock())
    quotas = [limiter.take("k") for _ in range(61)]
    assert all(q.allowed for q in quotas[:60])
    assert [q.remaining for q in quotas[:3]] == [59, 58, 57]
    refused = quotas[60]
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    assert refused.headers() == {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "Retry-After": "1",
    }


def test_tokens_come_back_evenly_over_the_minute() -> None:
    clock = FakeClock()
    limiter = ratelimit.RateLimiter(1000, clock)
    for _ in range(1000):
        limiter.take("k")
    assert not limiter.take("k").allowed
    clock.now += 0.06  # one token every 60 ms
    assert limiter.take("k").allowed
    assert not limiter.take("k").allowed
    clock.now += 3600
    assert limiter.peek("k").remaining == 1000


def test_peek_spends_nothing_and_says_when_the_bucket_is_full() -> None:
    clock = FakeClock()
    limiter = ratelimit.RateLimiter(60, clock)
    limiter.take("k")
    limiter.take("k")
    quota = limiter.peek("k")
    assert (quota.remaining, quota.reset_seconds) == (58, 2.0)
    assert limiter.peek("k").remaining == 58
    assert "Retry-After" not in quota.headers()


def test_buckets_are_independent_per_key() -> None:
    limiter = ratelimit.RateLimiter(1, FakeClock())
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed
    assert limiter.take("b").allowed
