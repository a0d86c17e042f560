"""Apply: staged rows -> customers, events, interactions, by set-based statements in chunks.

Each chunk is one transaction that also moves the checkpoint, so the writes of an import are
short transactions (other requests for the same customers wait a chunk at most) and a worker
taking over after a crash goes on after the last chunk written. Customers are chunked by CRM id
in order, the order every apply locks them in; events and interactions by line.
"""

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.customers.locks import erased_detail
from feedback_svc.customers.schemas import MAX_ATTRIBUTES
from feedback_svc.customers.service import too_many_attributes
from feedback_svc.imports import queries

CUSTOMER_CHUNK = 10_000
LINE_CHUNK = 50_000

Progress = Callable[[int], None]


async def apply_customers(
    conn: asyncpg.Connection, import_id: UUID, *, after: str, progress: Progress | None = None
) -> None:
    while (
        through := await queries.customer_chunk_end(conn, import_id, after=after, size=CUSTOMER_CHUNK)
    ) is not None:
        async with conn.transaction():
            rows, waves = await queries.customer_waves(conn, import_id, after=after, through=through)
            created = updated = 0
            refused: list[tuple[int, int]] = []
            for wave in range(1, waves + 1):
                span: dict[str, Any] = {"after": after, "through": through, "wave": wave}
                created += await queries.insert_wave_customers(conn, import_id, **span)
                refused += await queries.wave_attribute_overflow(
                    conn, import_id, limit=MAX_ATTRIBUTES, **span
                )
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
                through=through,
            )
        if progress is not None:
            progress(rows)
        after = through


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


async def apply_lines(
    conn: asyncpg.Connection, kind: str, import_id: UUID, *, after: int, progress: Progress | None = None
) -> None:
    """Events or interactions, LINE_CHUNK lines of the file at a time."""
    last = await queries.last_staged_line(conn, import_id)
    while after < last:
        through = after + LINE_CHUNK
        async with conn.transaction():
            result = await queries.apply_chunk(conn, kind, import_id, after=after, through=through)
            refused = result["refused"]
            await queries.copy_errors(conn, [(import_id, item["line"], *_refusal(item)) for item in refused])
            applied = result["rows"] - len(refused)
            await queries.save_applied(
                conn,
                import_id,
                applied=applied,
                created=result["created"],
                updated=0,
                unchanged=applied - result["created"],
                refused=len(refused),
                through=str(through),
            )
        if progress is not None:
            progress(result["rows"])
        after = through
