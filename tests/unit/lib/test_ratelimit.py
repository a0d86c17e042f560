import asyncio
from typing import Any

import pytest

from feedback_svc.lib.ratelimit import RateLimiter
from tests.waiting import eventually


class DownPool:
    """A database that cannot be reached."""

    calls = 0

    async def fetch(self, *_: Any) -> list[Any]:
        self.calls += 1
        raise OSError("connection refused")

    async def execute(self, *_: Any) -> str:
        raise OSError("connection refused")


def test_a_window_counts_up_to_its_limit_then_says_how_long_to_wait() -> None:
    limiter = RateLimiter(DownPool(), window_seconds=60, clock=lambda: 1_800_000_015.0)  # type: ignore[arg-type]
    assert [limiter.hit("k", 3) for _ in range(3)] == [None, None, None]
    assert limiter.hit("k", 3) == pytest.approx(45.0)
    assert limiter.hit("other", 3) is None


def test_a_new_window_starts_afresh() -> None:
    now = [1_800_000_015.0]
    limiter = RateLimiter(DownPool(), window_seconds=60, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(2):
        limiter.hit("k", 2)
    assert limiter.hit("k", 2) is not None
    now[0] += 60
    assert limiter.hit("k", 2) is None


async def test_with_the_database_down_hits_are_kept_and_limits_hold_per_process() -> None:
    pool = DownPool()
    limiter = RateLimiter(pool, flush_seconds=0.01, clock=lambda: 1_800_000_015.0)  # type: ignore[arg-type]
    for _ in range(5):
        assert limiter.hit("k", 5) is None
    with pytest.raises(OSError, match="refused"):
        await limiter.flush()
    assert limiter.hit("k", 5) is not None  # the unsent hits still count

    stop = asyncio.Event()
    task = asyncio.create_task(limiter.run(stop))

    async def calls() -> int:
        return pool.calls

    # the flush loop survives the outage: a failed flush is followed by another
    before = pool.calls
    await eventually(
        calls, until=lambda n: n >= before + 2, what="two flush attempts by the loop in the outage"
    )
    stop.set()
    await asyncio.wait_for(task, 1)  # and stops when told


def test_wait_only_looks_and_add_only_counts_in_a_window_of_their_own_length() -> None:
    now = [1_800_000_030.0]  # 30 s into a minute, 30 s into a quarter of an hour
    limiter = RateLimiter(DownPool(), window_seconds=60, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(5):
        assert limiter.wait("login:a", 2, window_seconds=900) is None
    limiter.add("login:a", window_seconds=900)
    limiter.add("login:a", window_seconds=900)
    assert limiter.wait("login:a", 2, window_seconds=900) == pytest.approx(870.0)
    assert limiter.longest_window == 900
    # a minute later the short windows have moved on; the long one has not, and is kept
    now[0] += 60
    limiter.forget_finished()
    assert limiter.wait("login:a", 2, window_seconds=900) == pytest.approx(810.0)
    now[0] += 810
    limiter.forget_finished()
    assert limiter.wait("login:a", 2, window_seconds=900) is None
