"""Typed wrappers over apikeys/queries.sql."""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.apikeys.schemas import ApiKey
from feedback_svc.db.sql import load_queries

Q = load_queries(Path(__file__).with_name("queries.sql"))


def _key(row: asyncpg.Record) -> ApiKey:
    return msgspec.convert(dict(row), ApiKey)


async def insert_api_key(
    conn: asyncpg.Connection,
    *,
    name: str,
    prefix: str,
    secret_hash: bytes,
    scopes: list[str],
    expires_at: datetime | None,
    agent: str | None,
) -> ApiKey:
    row = await conn.fetchrow(Q["insert_api_key"], name, prefix, secret_hash, scopes, expires_at, agent)
    return _key(row)


async def find_api_key(conn: asyncpg.Connection | asyncpg.Pool, prefix: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(Q["find_api_key"], prefix)
    return dict(row) if row else None


async def list_api_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[ApiKey]:
    return [_key(row) for row in await conn.fetch(Q["list_api_keys"])]


async def revoke_api_key(conn: asyncpg.Connection | asyncpg.Pool, key_id: UUID) -> ApiKey | None:
    row = await conn.fetchrow(Q["revoke_api_key"], key_id)
    return _key(row) if row else None
