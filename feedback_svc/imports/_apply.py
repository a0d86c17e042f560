"""Apply: staged rows -> customers, events, interactions, by set-based statements in chunks.

Chunks are ranges of the file's lines and follow validation as it goes: while Python checks
the next batches, PostgreSQL writes the chunks already checked, so the cores work at once; events
and interactions are written by two connections side by side. Each chunk is one transaction that
also marks the chunk written, so the writes of an import are short transactions (other requests
for the same customers wait a chunk at most) and a worker taking over after a crash writes only
the chunks not yet marked.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.customers.locks import erased_detail
from feedback_svc.customers.schemas import MAX_ATTRIBUTES
from feedback_svc.customers.service import too_many_attributes
from feedback_svc.imports import queries

# lines per chunk: a customer row costs about three times an event row to write
CHUNK_LINES = {"customers": 20_000, "events": 50_000, "interactions": 50_000}
DEADLOCK_RETRIES = 5

Progress = Callable[[int], None]


@dataclass
class Validated:
    """How far validation has staged the file: the apply follows it."""

    through: int = 0
    done: bool = False
    _moved: asyncio.Event = field(default_factory=asyncio.Event)

    def advance(self, line: int) -> None:
        self.through = line
        self._moved.set()

    def finish(self) -> None:
        self.done = True
        self._moved.set()

    async def reach(self, line: int) -> int:
        """Wait until validation has passed `line` or ended; how far it got."""
        while self.through < line and not self.done:
            self._moved.clear()
            await self._moved.wait()
        return self.through


@dataclass
class Chunks:
    """The grid of line chunks an import is written in: (k * size, (k + 1) * size] is chunk k.

    Writers take chunks in order; chunks already written (by a worker that died) are skipped."""

    size: int
    written: set[int]
    _next: int = 0
    analyzed_through: int = 0

    def take(self) -> int:
        while self._next in self.written:
            self._next += 1
        self._next += 1
        return self._next - 1


async def apply_as_validated(
    connections: list[asyncpg.Connection],
    kind: str,
    import_id: UUID,
    *,
    validated: Validated,
    progress: Progress | None = None,
) -> None:
    """Apply every staged chunk, waiting for validation where it is ahead, one writer per
    connection. Customers take one writer: rows of one customer in two chunks apply in order."""
    chunks = Chunks(size=CHUNK_LINES[kind], written=await queries.written_chunks(connections[0], import_id))
    writers = connections[:1] if kind == "customers" else connections
    await asyncio.gather(
        *(
            _write(conn, kind, import_id=import_id, chunks=chunks, validated=validated, progress=progress)
            for conn in writers
        )
    )


async def _write(
    conn: asyncpg.Connection,
    kind: str,
    *,
    import_id: UUID,
    chunks: Chunks,
    validated: Validated,
    progress: Progress | None,
) -> None:
    while True:
        chunk = chunks.take()
        after, through = chunk * chunks.size, (chunk + 1) * chunks.size
        await validated.reach(through)
        if validated.done and after >= await queries.last_staged_line(conn, import_id, kind):
            return
        if chunks.analyzed_through < through:
            # Statistics that know the lines just staged: without them the planner takes a chunk
            # of 50,000 rows for a handful and joins them by nested loops, for minutes. The
            # staging tables sample few rows (migration 0005), so this costs milliseconds.
            chunks.analyzed_through = max(through, validated.through)
            await queries.analyze_staging(conn, kind)
        write = _customers if kind == "customers" else _lines
        for attempt in range(DEADLOCK_RETRIES):
            try:
                rows = await write(conn, kind, import_id, chunk=chunk, after=after, through=through)
                break
            except asyncpg.DeadlockDetectedError:
                # two writers inserting the same external ids in opposite orders: PostgreSQL
                # undid one chunk; it is written again
                if attempt == DEADLOCK_RETRIES - 1:
                    raise
        if progress is not None:
            progress(rows)


async def _customers(
    conn: asyncpg.Connection, _: str, import_id: UUID, *, chunk: int, after: int, through: int
) -> int:
    async with conn.transaction():
        rows, waves, customers = await queries.customer_waves(conn, import_id, after=after, through=through)
        created = updated = 0
        refused: list[tuple[int, int]] = []
        for wave in range(1, waves + 1):
            span: dict[str, Any] = {"after": after, "through": through, "wave": wave}
            new = await queries.insert_wave_customers(conn, import_id, **span)
            created += new
            if wave == 1 and new == customers:
                continue  # every customer of the first wave is new: nothing to update or back-fill
            refused += await queries.wave_attribute_overflow(conn, import_id, limit=MAX_ATTRIBUTES, **span)
            updated += await queries.update_wave_customers(conn, import_id, limit=MAX_ATTRIBUTES, **span)
            updated += await queries.backfill_attributes(conn, import_id, **span)
        await queries.copy_errors(
            conn, [(import_id, line, "attributes", too_many_attributes(n)) for line, n in refused]
        )
        await queries.save_applied(
            conn,
            import_id,
            applied=rows - len(refused),
            created=created,
            updated=updated,
            unchanged=rows - len(refused) - created - updated,
            refused=len(refused),
            chunk=chunk,
        )
    return rows


def _refusal(item: dict[str, Any]) -> tuple[str | None, str]:
    match item["problem"]:
        case "external_id":
            return "external_id", (
                f"An event with external_id {item['external_id']!r} was recorded before for another "
                "customer, kind or time; use a new external_id for a new event."
            )
        case "erased":
            return "customer_id", erased_detail(item["customer_id"])
        case _ if item["customer_id"] is not None:
            return "customer_id", f"No customer with id {item['customer_id']}."
        case _:
            return "customer_external_id", (
                f"No customer with external_id {item['customer_external_id']!r}; import customers first, "
                "or create it with POST /v1/customers."
            )


async def _lines(
    conn: asyncpg.Connection, kind: str, import_id: UUID, *, chunk: int, after: int, through: int
) -> int:
    async with conn.transaction():
        result = await queries.apply_chunk(conn, kind, import_id, after=after, through=through)
        refused = result["refused"]
        await queries.copy_errors(conn, [(import_id, item["line"], *_refusal(item)) for item in refused])
        # rarely anything: rows of customers erased while the chunk was written (no line to name)
        gone = await queries.drop_rows_of_erased(conn, kind, import_id)
        applied = result["rows"] - len(refused) - gone
        await queries.save_applied(
            conn,
            import_id,
            applied=applied,
            created=result["created"] - gone,
            updated=0,
            unchanged=applied - result["created"] + gone,
            refused=len(refused) + gone,
            chunk=chunk,
        )
    return result["rows"]
