"""Typed wrappers over imports/queries.sql."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from feedback_svc.db.sql import load_queries
from feedback_svc.imports.parsing import UNREADABLE, unreadable

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool
Row = dict[str, Any]
ERROR_COLUMNS = ("import_id", "line", "field", "message")


def _row(record: asyncpg.Record | None) -> Row | None:
    return dict(record) if record is not None else None


async def create_import(
    conn: Conn,
    *,
    kind: str,
    fmt: str,
    api_key_id: UUID | None,
    requested_by: str,
    file_name: str | None,
    idempotency_key: str | None,
    options: dict[str, Any],
    status: str = "receiving",
) -> Row:
    record = await conn.fetchrow(
        Q["create_import"], kind, fmt, api_key_id, requested_by, file_name, idempotency_key, options, status
    )
    assert record is not None
    return dict(record)


async def import_for_key(conn: Conn, *, api_key_id: UUID, key: str) -> Row | None:
    return _row(await conn.fetchrow(Q["import_for_key"], api_key_id, key))


async def get_import(conn: Conn, import_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["get_import"], import_id))


async def list_imports(conn: Conn, *, limit: int) -> list[Row]:
    return [dict(r) for r in await conn.fetch(Q["list_imports"], limit)]


async def save_receiving(conn: Conn, import_id: UUID, *, size: int, rows: int) -> None:
    await conn.execute(Q["save_receiving"], import_id, size, rows)


async def same_file_import(conn: Conn, *, kind: str, digest: bytes, other_than: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["same_file_import"], kind, digest, other_than))


async def finish_receiving(conn: Conn, import_id: UUID, *, digest: bytes, status: str) -> Row | None:
    return _row(await conn.fetchrow(Q["finish_receiving"], import_id, digest, status))


async def drop_import(conn: Conn, import_id: UUID) -> None:
    await conn.execute(Q["drop_staging"], import_id)
    await conn.execute(Q["drop_import"], import_id)


async def start_validating(conn: Conn, import_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["start_validating"], import_id))


async def save_validated(
    conn: Conn, import_id: UUID, *, through_line: int, rows: int, valid: int, invalid: int
) -> None:
    await conn.execute(Q["save_validated"], import_id, through_line, rows, valid, invalid)


async def analyze_staging(conn: Conn, kind: str) -> None:
    await conn.execute(Q[f"analyze_{kind.removesuffix('s')}_rows"])


async def start_applying(conn: Conn, import_id: UUID) -> Row | None:
    return _row(await conn.fetchrow(Q["start_applying"], import_id))


async def save_applied(
    conn: Conn,
    import_id: UUID,
    *,
    applied: int,
    created: int,
    updated: int,
    unchanged: int,
    refused: int,
    chunk: int,
) -> None:
    await conn.execute(Q["save_applied"], import_id, applied, created, updated, unchanged, refused, chunk)


async def written_chunks(conn: Conn, import_id: UUID) -> set[int]:
    return {row["chunk"] for row in await conn.fetch(Q["written_chunks"], import_id)}


async def finish_import(conn: Conn, import_id: UUID, *, status: str, message: str | None) -> Row | None:
    return _row(await conn.fetchrow(Q["finish_import"], import_id, status, message))


async def fail_import(conn: Conn, import_id: UUID, *, message: str) -> None:
    await conn.execute(Q["fail_import"], import_id, message)


async def drop_staging(conn: Conn, import_id: UUID) -> None:
    await conn.execute(Q["drop_staging"], import_id)


async def drop_staged_rows_after(conn: Conn, import_id: UUID, line: int) -> None:
    await conn.execute(Q["drop_staged_rows_after"], import_id, line)


async def lines_after(conn: Conn, import_id: UUID, *, line: int, limit: int) -> list[tuple[int, str]]:
    rows = await conn.fetch(Q["lines_after"], import_id, line, limit)
    return [(r["line"], r["text"] if r["problem"] is None else UNREADABLE + r["problem"]) for r in rows]


async def first_line(conn: Conn, import_id: UUID) -> str | None:
    return await conn.fetchval(Q["first_line"], import_id)


async def row_errors(conn: Conn, import_id: UUID, *, after_line: int, lines: int) -> list[Row]:
    return [dict(r) for r in await conn.fetch(Q["row_errors"], import_id, after_line, lines)]


async def copy_errors(conn: asyncpg.Connection, errors: Sequence[tuple[UUID, int, str | None, str]]) -> None:
    if errors:
        await conn.copy_records_to_table("import_errors", records=errors, columns=ERROR_COLUMNS)


async def copy_rows(
    conn: asyncpg.Connection, *, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if rows:
        await conn.copy_records_to_table(table, records=rows, columns=("import_id", "line", *columns))


async def copy_lines(conn: asyncpg.Connection, lines: Sequence[tuple[UUID, int, str]]) -> None:
    if lines:
        await conn.copy_records_to_table(
            "import_lines",
            records=[
                (import_id, line, "", problem)
                if (problem := unreadable(text)) is not None
                else (import_id, line, text, None)
                for import_id, line, text in lines
            ],
            columns=("import_id", "line", "text", "problem"),
        )


async def lock_applying(conn: asyncpg.Connection) -> None:
    await conn.fetchval(Q["lock_applying"])


async def unlock_applying(conn: asyncpg.Connection) -> None:
    await conn.fetchval(Q["unlock_applying"])


async def lock_import(conn: asyncpg.Connection, import_id: UUID) -> bool:
    return await conn.fetchval(Q["lock_import"], import_id)


async def unlock_import(conn: asyncpg.Connection, import_id: UUID) -> None:
    await conn.fetchval(Q["unlock_import"], import_id)


async def customer_waves(conn: Conn, import_id: UUID, *, after: int, through: int) -> tuple[int, int, int]:
    """(rows, waves, customers) of a chunk of lines."""
    record = await conn.fetchrow(Q["customer_waves"], import_id, after, through)
    assert record is not None
    return record["rows"], record["waves"], record["customers"]


async def insert_wave_customers(conn: Conn, import_id: UUID, *, after: int, through: int, wave: int) -> int:
    return await conn.fetchval(Q["insert_wave_customers"], import_id, after, through, wave)


async def wave_attribute_overflow(
    conn: Conn, import_id: UUID, *, after: int, through: int, limit: int, wave: int
) -> list[tuple[int, int]]:
    rows = await conn.fetch(Q["wave_attribute_overflow"], import_id, after, through, limit, wave)
    return [(r["line"], r["n"]) for r in rows]


async def update_wave_customers(
    conn: Conn, import_id: UUID, *, after: int, through: int, limit: int, wave: int
) -> int:
    return await conn.fetchval(Q["update_wave_customers"], import_id, after, through, limit, wave)


async def backfill_attributes(conn: Conn, import_id: UUID, *, after: int, through: int, wave: int) -> int:
    return await conn.fetchval(Q["backfill_attributes"], import_id, after, through, wave)


async def apply_chunk(conn: Conn, kind: str, import_id: UUID, *, after: int, through: int) -> Row:
    record = await conn.fetchrow(Q[f"apply_{kind}"], import_id, after, through)
    assert record is not None
    return dict(record)


async def drop_rows_of_erased(conn: Conn, kind: str, import_id: UUID) -> int:
    return await conn.fetchval(Q[f"drop_{kind}_of_erased"], import_id)


async def last_staged_line(conn: Conn, import_id: UUID, kind: str) -> int:
    return await conn.fetchval(Q["last_staged_line"], import_id) or 0
