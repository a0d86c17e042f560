"""Typed wrappers over users/queries.sql."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.db.sql import load_queries
from feedback_svc.users.schemas import SessionUser, User

Q = load_queries(Path(__file__).with_name("queries.sql"))

Conn = asyncpg.Connection | asyncpg.Pool


def _user(record: asyncpg.Record) -> User:
    return msgspec.convert(dict(record), User)


async def insert_user(
    conn: Conn, *, email: str, name: str, role: str, password_hash: str, time_zone: str
) -> User:
    record = await conn.fetchrow(Q["insert_user"], email, name, role, password_hash, time_zone)
    assert record is not None
    return _user(record)


async def user_for_login(conn: Conn, email: str) -> tuple[User, str] | None:
    """The account and its password hash, or None for an unknown email."""
    record = await conn.fetchrow(Q["user_for_login"], email)
    if record is None:
        return None
    row = dict(record)
    password_hash = row.pop("password_hash")
    return msgspec.convert(row, User), password_hash


async def list_users(conn: Conn) -> list[User]:
    return [_user(record) for record in await conn.fetch(Q["list_users"])]


async def user_by_id(conn: Conn, user_id: UUID) -> User | None:
    record = await conn.fetchrow(Q["user_by_id"], user_id)
    return _user(record) if record is not None else None


async def record_failed_login(
    conn: Conn, user_id: UUID, *, limit: int, lockout: timedelta
) -> tuple[int, datetime | None]:
    record = await conn.fetchrow(Q["record_failed_login"], user_id, limit, lockout)
    assert record is not None
    return record["failed_logins"], record["locked_until"]


async def record_successful_login(conn: Conn, user_id: UUID) -> None:
    await conn.execute(Q["record_successful_login"], user_id)


async def update_password_hash(conn: Conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute(Q["update_password_hash"], user_id, password_hash)


async def set_user_time_zone(conn: Conn, user_id: UUID, time_zone: str) -> User | None:
    record = await conn.fetchrow(Q["set_user_time_zone"], user_id, time_zone)
    return _user(record) if record is not None else None


async def set_user_disabled(conn: Conn, user_id: UUID, *, disabled: bool) -> User | None:
    record = await conn.fetchrow(Q["set_user_disabled"], user_id, disabled)
    return _user(record) if record is not None else None


async def reset_password(conn: Conn, user_id: UUID, password_hash: str) -> User | None:
    record = await conn.fetchrow(Q["reset_password"], user_id, password_hash)
    return _user(record) if record is not None else None


async def unlock_user(conn: Conn, user_id: UUID) -> User | None:
    record = await conn.fetchrow(Q["unlock_user"], user_id)
    return _user(record) if record is not None else None


async def insert_session(
    conn: Conn, *, token_hash: bytes, user_id: UUID, csrf_token: str, expires_at: datetime
) -> None:
    await conn.execute(Q["insert_session"], token_hash, user_id, csrf_token, expires_at)


async def session_by_token_hash(conn: Conn, token_hash: bytes) -> SessionUser | None:
    record = await conn.fetchrow(Q["session_by_token_hash"], token_hash)
    return msgspec.convert(dict(record), SessionUser) if record is not None else None


async def delete_session(conn: Conn, token_hash: bytes) -> None:
    await conn.execute(Q["delete_session"], token_hash)


async def delete_expired_sessions(conn: Conn) -> int:
    status = await conn.execute(Q["delete_expired_sessions"])
    return int(status.split()[-1])


async def insert_audit(
    conn: Conn,
    *,
    user_id: UUID,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    await conn.execute(
        Q["insert_audit"], str(user_id), action, target_type, target_id, details or {}, request_id
    )
