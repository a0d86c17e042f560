"""Wait for a condition, not for a guessed amount of time.

    row = await eventually(lambda: job_row(conn, job_id), until=lambda row: row["status"] == "done",
                           timeout=5, what="the job to be done")
    port = wait_for(lambda: read_port(path), timeout=90, what="serve to write its port")

`probe` is called until `until(value)` holds (by default: the value is truthy) and that
value is returned. On timeout the test fails saying what it waited for and the last value
seen (or the last exception the probe raised), which is what a reader needs to tell a slow
machine from a real bug. Polling is cheap; a sleep of "a bit longer than the lease" is
either too short on a loaded machine or wastes time on a fast one.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# short enough to add little to a test, long enough not to hammer the database
INTERVAL = 0.02


def _truthy(value: object) -> bool:
    return bool(value)


def _timed_out(what: str, timeout: float, last: object, error: BaseException | None) -> AssertionError:
    seen = f"the probe last raised {error!r}" if error is not None else f"last value seen: {last!r}"
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}; {seen}")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = INTERVAL,
    until: Callable[[T], bool] = _truthy,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Await `probe()` until `until` holds for its value; that value. `retry_on` exceptions mean 'not yet'."""
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = await probe()
        except retry_on as raised:
            error = raised
        else:
            error = None
            if until(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, last, error)
        await asyncio.sleep(interval)  # polling interval, not synchronisation


def wait_for(
    probe: Callable[[], T],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = INTERVAL,
    until: Callable[[T], bool] = _truthy,
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """The blocking twin of `eventually`, for threads and subprocess-driving tests."""
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = probe()
        except retry_on as raised:
            error = raised
        else:
            error = None
            if until(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, last, error)
        time.sleep(interval)  # polling interval, not synchronisation
