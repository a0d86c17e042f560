"""Group commit: concurrent one-row writes share one statement and one commit.

A one-row write costs PostgreSQL a parse-bind-execute, a commit record and a WAL flush, and
costs the service a pool checkout and a round trip; for a small row those fixed costs are most
of the work. So writes that arrive while every lane is busy queue up, and the next free lane
writes all of them with one statement, on one connection. There is no timer: a write that
finds a lane free goes at once, so grouping adds no latency when the service is idle and forms
only under load, where it pays. Each caller is answered after the statement has committed,
so every reply still stands for a durable row.

The statement decides, row by row, what it wrote: `write` returns one result per item, None
for an item it left alone (a row a rule refused, say). And if the statement fails as a whole
(a unique violation raced in, a deadlock, the database went away), it wrote nothing. In both
cases `submit` answers None, and the caller writes its item the ordinary way, one at a time,
which gives it the exact reply or error it would have had without grouping.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg
import structlog

Item = TypeVar("Item")
Result = TypeVar("Result")

log = structlog.get_logger(__name__)


class GroupCommit(Generic[Item, Result]):
    """`await group.submit(item)`: the write's result once committed, or None (write it yourself)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        write: Callable[[asyncpg.Connection, Sequence[Item]], Awaitable[Sequence[Result | None]]],
        *,
        name: str,
        lanes: int = 2,
        max_items: int = 100,
    ) -> None:
        self._pool = pool
        self._write = write
        self._name = name
        self._lanes = lanes
        self._max_items = max_items
        self._queue: deque[tuple[Item, asyncio.Future[Result | None]]] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def submit(self, item: Item) -> Result | None:
        if self._closed:
            return None
        if not self._tasks:  # started here: the lanes need the serving loop
            self._tasks = [
                asyncio.create_task(self._lane(), name=f"{self._name}-lane-{n}") for n in range(self._lanes)
            ]
        done: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        self._ready.set()
        return await done

    async def close(self) -> None:
        """Stop the lanes; what is still queued is handed back to its callers."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _hand_back(list(self._queue))
        self._queue.clear()

    def _take(self) -> list[tuple[Item, asyncio.Future[Result | None]]]:
        taken = []
        while self._queue and len(taken) < self._max_items:
            taken.append(self._queue.popleft())
        if not self._queue:
            self._ready.clear()
        return taken

    async def _lane(self) -> None:
        while True:
            await self._ready.wait()
            group = self._take()
            if not group:
                continue
            try:
                async with self._pool.acquire() as conn:
                    results = await self._write(conn, [item for item, _ in group])
                for (_, done), result in zip(group, results, strict=True):
                    if not done.done():
                        done.set_result(result)
            except asyncio.CancelledError:
                _hand_back(group)
                raise
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
                # expected now and then (a race, a deadlock, a restart): the one-by-one path
                # meets the same condition on its own and answers it as it always does
                log.debug("group commit failed; writing one by one", group=self._name, error=repr(error))
                _hand_back(group)
            except Exception:
                log.exception("group commit failed; writing one by one", group=self._name)
                _hand_back(group)


def _hand_back(group: Sequence[tuple[object, asyncio.Future[object]]]) -> None:
    for _, done in group:
        if not done.done():
            done.set_result(None)
