"""Group commit: concurrent writes of one kind share one statement, one transaction, one commit.

Each write alone pays a round trip, a statement's fixed cost and a commit (a WAL flush), and
the serving process pays about as much CPU per round trip as PostgreSQL does. So writes that
arrive while every lane is busy queue up, and the next free lane sends all of them at once
(up to `max_batch`) as one statement. There is no timer: a write that finds a lane free goes at
once, alone, with its own one-row statement, so group commit adds no latency; batches only form
under load, where they pay.

Every caller is answered after its batch's statement returned, i.e. after the commit (a single
statement is its own transaction, synchronous_commit on). When the server refuses a batch of
several as a whole (a unique violation, a deadlock, a trigger), nothing of it was written, and
each caller is told `RETRY`: it then sends its own one-row statement, which gets its own exact
outcome. A batch of one fails as that one statement would: its caller gets the error itself.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, Generic, TypeVar

import asyncpg

T = TypeVar("T")
R = TypeVar("R")


class _Retry(Enum):
    RETRY = "retry"


# the batch was refused as a whole and wrote nothing: send this write on its own
RETRY: Final = _Retry.RETRY

One = Callable[[asyncpg.Connection, T], Awaitable[R]]
Many = Callable[[asyncpg.Connection, Sequence[T]], Awaitable[list[R]]]


@dataclass(frozen=True, slots=True)
class _Waiting(Generic[T, R]):
    item: T
    done: "asyncio.Future[R | _Retry]"


class GroupCommit(Generic[T, R]):
    """`await lanes.write(item)`: `one(conn, item)`'s outcome, or RETRY; writes share statements.

    `many(conn, items)` must write all the items in one statement and return one outcome per
    item, in order, exactly what `one` would have returned for it.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, one: One[T, R], many: Many[T, R], lanes: int = 2, max_batch: int = 64
    ) -> None:
        self._pool = pool
        self._one = one
        self._many = many
        self._lanes = lanes
        self._max_batch = max_batch
        self._queue: deque[_Waiting[T, R]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def write(self, item: T) -> R | _Retry:
        if self._closed:
            raise RuntimeError("the service is shutting down")
        if not self._tasks:  # started here: the lanes need the serving loop
            self._tasks = [
                asyncio.create_task(self._lane(), name=f"group-commit-lane-{n}") for n in range(self._lanes)
            ]
        waiting: _Waiting[T, R] = _Waiting(item, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        self._ready.set()
        return await waiting.done

    @property
    def waiting(self) -> int:
        """Writes queued for a lane."""
        return len(self._queue)

    async def close(self) -> None:
        """Stop the lanes; writes still queued fail rather than wait forever."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._queue:
            _fail([self._queue.popleft()], RuntimeError("the service is shutting down"))

    def _take(self) -> list[_Waiting[T, R]]:
        taken = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
        if not self._queue:
            self._ready.clear()
        return taken

    async def _lane(self) -> None:
        while True:
            await self._ready.wait()
            batch = self._take()
            if not batch:
                continue
            try:
                await self._run(batch)
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("the service is shutting down"))
                raise
            except Exception as error:  # each caller re-raises it in its own handler
                _fail(batch, error)

    async def _run(self, batch: list[_Waiting[T, R]]) -> None:
        async with self._pool.acquire() as conn:
            if len(batch) == 1:
                outcomes: Sequence[R | _Retry] = [await self._one(conn, batch[0].item)]
            else:
                try:
                    outcomes = await self._many(conn, [waiting.item for waiting in batch])
                except asyncpg.PostgresError:
                    # refused as a whole, so nothing was written: each finds out its own outcome
                    outcomes = [RETRY] * len(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.done.done():  # a caller that gave up is not answered
                waiting.done.set_result(outcome)


def _fail(batch: Sequence[_Waiting[T, R]], error: BaseException) -> None:
    for waiting in batch:
        if not waiting.done.done():
            waiting.done.set_exception(error)
