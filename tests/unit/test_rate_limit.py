"""The anonymous callers' token bucket: bursts, refill, Retry-After, separate clients."""

import pytest

from kernel.ratelimit import RateLimiter

pytestmark = pytest.mark.reliability


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_steady_rate_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("10.0.0.1")
    assert 0.9 < wait <= 1.0  # one token a second
    assert limiter.take("10.0.0.2") == 0  # another client has its own bucket
    clock.now += 1.0
    assert limiter.take("10.0.0.1") == 0
    assert limiter.take("10.0.0.1") > 0
    clock.now += 60
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0, 0, 0]  # refilled to the burst
