"""Rate limits shared by every replica, without a database round trip per request.

Each process counts hits per bucket (an API key, a client address) in fixed windows and
flushes its new hits to PostgreSQL a few times a second; the flush returns the total that
all replicas have recorded so far. A request is refused when that shared total plus this
process's unflushed hits reaches the limit.

The price of skipping a round trip per request is a small overshoot: between two flushes,
each replica may let through what it has not yet heard about from the others, so a client
spreading requests over N replicas gets at most about N x rate x flush interval extra.
If the database cannot be reached, limits fall back to what each process saw itself:
rate limiting must never be the thing that takes the API down.
"""

import asyncio
import math
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from litestar.connection import Request
from litestar.datastructures import State

from feedback_svc.db.sql import load_queries
from feedback_svc.lib.errors import TooManyRequests

Q = load_queries(Path(__file__).with_name("ratelimit.sql"))
log = structlog.get_logger(__name__)


class _Window:
    __slots__ = ("flushing", "length", "shared", "start", "unflushed")

    def __init__(self, start: float, length: float) -> None:
        self.start = start
        self.length = length
        self.shared = 0  # every replica's hits, as of this process's last flush
        self.unflushed = 0  # this process's hits since then
        self.flushing = 0  # hits in a flush that has not answered yet


class RateLimiter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        window_seconds: float = 60.0,
        longest_window_seconds: float = 0.0,
        flush_seconds: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.window_seconds = window_seconds
        self.flush_seconds = flush_seconds
        self.clock = clock
        # Buckets may use longer windows (see `wait`). Finished windows are pruned after the
        # longest one in use by any replica, so every replica is told it up front.
        self.longest_window = max(window_seconds, longest_window_seconds)
        self._windows: dict[str, _Window] = {}

    def hit(self, bucket: str, limit: int, *, window_seconds: float | None = None) -> float | None:
        """Count one request; None when allowed, else the seconds until the window resets."""
        wait = self.wait(bucket, limit, window_seconds=window_seconds)
        if wait is None:
            self.add(bucket, window_seconds=window_seconds)
        return wait

    def wait(self, bucket: str, limit: int, *, window_seconds: float | None = None) -> float | None:
        """Without counting: None while `bucket` is under `limit`, else the seconds until it resets.

        With `add`, for limits on what went wrong (failed logins) rather than on every request.
        """
        now = self.clock()
        window = self._window(bucket, now, window_seconds or self.window_seconds)
        if window.shared + window.unflushed + window.flushing >= limit:
            return max(window.start + window.length - now, 0.0)
        return None

    def add(self, bucket: str, *, window_seconds: float | None = None) -> None:
        self._window(bucket, self.clock(), window_seconds or self.window_seconds).unflushed += 1

    def _window(self, bucket: str, now: float, length: float) -> _Window:
        self.longest_window = max(self.longest_window, length)
        start = now - now % length
        window = self._windows.get(bucket)
        if window is None or window.start != start or window.length != length:
            window = self._windows[bucket] = _Window(start, length)
        return window

    async def flush(self) -> None:
        """Send this process's new hits; learn the shared totals. Safe to call at any time."""
        pending = [(bucket, window) for bucket, window in self._windows.items() if window.unflushed]
        if not pending:
            return
        for _, window in pending:
            window.flushing, window.unflushed = window.unflushed, 0
        try:
            rows = await self.pool.fetch(
                Q["add_hits"],
                [bucket for bucket, _ in pending],
                [datetime.fromtimestamp(window.start, UTC) for _, window in pending],
                [window.flushing for _, window in pending],
            )
        except BaseException:
            for _, window in pending:  # not recorded: count them again next time
                window.unflushed += window.flushing
                window.flushing = 0
            raise
        totals = {(row["bucket"], row["window_start"].timestamp()): row["hits"] for row in rows}
        for bucket, window in pending:
            window.flushing = 0
            # hits this process made during the flush are still in `unflushed`, not in the total
            window.shared = max(window.shared, totals.get((bucket, window.start), window.shared))

    def forget_finished(self) -> None:
        now = self.clock()
        finished = [b for b, w in self._windows.items() if w.start + w.length <= now and not w.unflushed]
        for bucket in finished:
            del self._windows[bucket]

    async def run(self, stop: asyncio.Event) -> None:
        """Flush until stopped; a last flush on the way out keeps the final hits counted."""
        last_prune = 0.0
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.flush_seconds)
            try:
                await self.flush()
                self.forget_finished()
                if self.clock() - last_prune > self.window_seconds:
                    # the longest window in use decides: a login window outlives a minute's
                    cutoff = self.clock() - 2 * max(self.window_seconds, self.longest_window)
                    await self.pool.execute(Q["prune_windows"], datetime.fromtimestamp(cutoff, UTC))
                    last_prune = self.clock()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("rate limit flush failed; limits are per process for now", error=str(error))


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def check_api_key(state: State, key_id: str) -> None:
    """Count a request made with an API key; raise 429 past the per-key limit."""
    limit = state.settings.rate_limit_api_per_minute
    if limit:
        _check(state, f"key:{key_id}", limit, "this API key")


async def limit_by_client(request: Request[Any, Any, Any]) -> None:
    """A before-request hook for public token pages: a per-client-address limit, since there is no key.

    A hook, not a guard: Litestar copies the route handler for every guard call (bench_request_path:
    ~50 µs of server CPU per web-form answer). It runs before the body is read, as a guard would.
    async so Litestar runs it on the event loop: the limiter's counters are not thread-safe.
    """
    limit = request.app.state.settings.rate_limit_public_per_minute
    if limit:
        # behind a proxy, run uvicorn with --proxy-headers so this is the real client
        client = request.client.host if request.client else "unknown"
        _check(request.app.state, f"ip:{client}", limit, "your address")


def _check(state: State, bucket: str, limit: int, who: str) -> None:
    limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
    if limiter is None:  # the app is not started (schema generation)
        return
    wait = limiter.hit(bucket, limit)
    if wait is not None:
        raise TooManyRequests(
            f"Too many requests from {who}: the limit is {limit} a minute. "
            f"Try again in {max(1, math.ceil(wait))} s.",
            headers=retry_after_header(wait),
        )
