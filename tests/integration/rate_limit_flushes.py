"""Wait for replicas' rate limiters to flush, instead of sleeping a few flush intervals.

Each app flushes its limiter's hits from its own loop. A flush that began before a hit was
counted does not carry it, so "flushed" means: each limiter has finished two more flushes
since the call, the second of which began after it.
"""

from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.lib.ratelimit import RateLimiter
from tests.waiting import eventually


class FlushCount:
    """Counts a limiter's finished flushes (its run loop calls `flush` through the instance)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.done = 0
        flush = limiter.flush

        async def counted() -> None:
            await flush()
            self.done += 1

        limiter.flush = counted  # type: ignore[method-assign]


def count_flushes(client: AsyncTestClient[Litestar]) -> None:
    client.app.state.flush_count = FlushCount(client.app.state.rate_limiter)


async def flushed(replicas: list[AsyncTestClient[Litestar]]) -> None:
    """Until every replica (set up with `count_flushes`) has flushed what it counted before this call."""
    counts: list[FlushCount] = [client.app.state.flush_count for client in replicas]
    targets = [count.done + 2 for count in counts]

    async def finished() -> list[int]:
        return [count.done for count in counts]

    await eventually(
        finished,
        until=lambda done: all(n >= target for n, target in zip(done, targets, strict=True)),
        what=f"each replica's rate limiter to finish two more flushes (to {targets})",
        timeout=10,
    )
