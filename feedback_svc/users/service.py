"""Accounts, logins and sessions: the rules, no HTTP.

A session cookie is 256 random bits; the database keeps only its SHA-256, so a
leaked table does not sign anyone in. A failed login says the same thing whether
the email exists, the password is wrong or the account is locked or disabled.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from email_validator import EmailNotValidError, validate_email

from feedback_svc.lib.errors import Conflict, InvalidInput, NotFound
from feedback_svc.lib.localtime import UTC_NAME, is_time_zone
from feedback_svc.users import passwords, queries
from feedback_svc.users.schemas import ROLES, NewSession, SessionUser, User

MAX_NAME_LENGTH = 200


class LoginRefused(Exception):
    """Wrong email, wrong password, locked or disabled: one message for all, on purpose."""

    def __init__(self, *, max_failures: int, lockout: timedelta) -> None:
        minutes = round(lockout.total_seconds() / 60)
        super().__init__(
            "That email and password do not match an active account. "
            f"After {max_failures} failed attempts an account is locked for {minutes} minutes."
        )


def hash_session_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput(f"Check the email address: {error}") from None


async def create_user(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    time_zone: str = UTC_NAME,
) -> User:
    email = normalise_email(email)
    check_time_zone(time_zone)
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"Give a name of 1 to {MAX_NAME_LENGTH} characters.")
    if role not in ROLES:
        raise InvalidInput(f"Choose a role from {', '.join(ROLES)}.")
    passwords.check_password_rules(password, email=email, name=name)
    password_hash = await passwords.hash_password(password)
    try:
        return await queries.insert_user(
            conn, email=email, name=name, role=role, password_hash=password_hash, time_zone=time_zone
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"An account for {email} exists already.") from None


async def authenticate(
    conn: asyncpg.Connection,
    *,
    email: str,
    password: str,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> User:
    """The account for this email and password, or LoginRefused (failures counted toward a lock)."""
    found = await queries.user_for_login(conn, email.strip())
    user, password_hash = found if found is not None else (None, None)
    usable = user is not None and user.disabled_at is None and not user.is_locked(now)
    # always verify, so every refusal takes as long as a wrong password
    matched = await passwords.verify_password(password_hash if usable else None, password)
    if user is None or not usable or not matched:
        if user is not None and usable:
            await queries.record_failed_login(conn, user.id, limit=max_failures, lockout=lockout)
        raise LoginRefused(max_failures=max_failures, lockout=lockout)
    await queries.record_successful_login(conn, user.id)
    if password_hash is not None and passwords.needs_rehash(password_hash):
        await queries.update_password_hash(conn, user.id, await passwords.hash_password(password))
    return user


async def open_session(
    conn: asyncpg.Connection, user: User, *, now: datetime, lifetime: timedelta
) -> NewSession:
    cookie_value = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    await queries.insert_session(
        conn,
        token_hash=hash_session_token(cookie_value),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=expires_at,
    )
    return NewSession(cookie_value=cookie_value, user=user, expires_at=expires_at)


async def session_for_cookie(
    conn: asyncpg.Connection | asyncpg.Pool, cookie_value: str | None
) -> SessionUser | None:
    if not cookie_value or len(cookie_value) > 100:
        return None
    return await queries.session_by_token_hash(conn, hash_session_token(cookie_value))


async def end_session(conn: asyncpg.Connection | asyncpg.Pool, cookie_value: str) -> None:
    await queries.delete_session(conn, hash_session_token(cookie_value))


def check_time_zone(time_zone: str) -> None:
    if not is_time_zone(time_zone):
        raise InvalidInput(f"{time_zone!r} is not a time zone; choose one such as Europe/Berlin or UTC.")


async def set_time_zone(conn: asyncpg.Connection | asyncpg.Pool, user_id: UUID, time_zone: str) -> User:
    check_time_zone(time_zone)
    user = await queries.set_user_time_zone(conn, user_id, time_zone)
    if user is None:
        raise NotFound(f"No account {user_id}.")
    return user


async def set_disabled(conn: asyncpg.Connection, user_id: UUID, *, disabled: bool) -> User:
    user = await queries.set_user_disabled(conn, user_id, disabled=disabled)
    if user is None:
        raise NotFound(f"No account {user_id}.")
    return user


async def reset_password(conn: asyncpg.Connection, user_id: UUID, password: str) -> User:
    """A new password set by a manager, under the same rules as a new account's; signs the person out."""
    user = await queries.user_by_id(conn, user_id)
    if user is None:
        raise NotFound(f"No account {user_id}.")
    passwords.check_password_rules(password, email=user.email, name=user.name)
    changed = await queries.reset_password(conn, user_id, await passwords.hash_password(password))
    if changed is None:
        raise NotFound(f"No account {user_id}.")
    return changed


async def unlock(conn: asyncpg.Connection, user_id: UUID) -> User:
    user = await queries.unlock_user(conn, user_id)
    if user is None:
        raise NotFound(f"No account {user_id}.")
    return user
