"""Reading the audit log; rows are written by audit/actions.py."""

from datetime import datetime
from pathlib import Path

import asyncpg
import msgspec

from feedback_svc.audit.schemas import AuditEntry, AuditPage
from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))


async def list_entries(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    before: int | None,
    actor_type: str | None,
    actor_id: str | None,
    action: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> AuditPage:
    rows = await conn.fetch(
        Q["list_entries"], before, actor_type, actor_id, action, target_id, since, until, limit + 1
    )
    entries = [msgspec.convert(dict(row), AuditEntry) for row in rows[:limit]]
    return AuditPage(entries=entries, next_before=entries[-1].id if len(rows) > limit else None)
