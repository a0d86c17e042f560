"""Issuing and verifying API keys.

A key is `fsk_<prefix>_<secret>`: the prefix finds the row, the 256-bit secret is
checked against a SHA-256 hash. A slow password hash (argon2) would add nothing
against guessing 256 random bits and would cost milliseconds on every request.
"""

import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from feedback_svc.apikeys import queries
from feedback_svc.apikeys.schemas import AGENT_PATTERN, SCOPES, ApiKey, ApiKeyCreated
from feedback_svc.lib.errors import InvalidInput, NotFound, Unauthorized

KEY_MARK = "fsk"
_AGENT = re.compile(AGENT_PATTERN)


class Principal(msgspec.Struct, frozen=True):
    """Who is calling, as far as authorisation cares."""

    key_id: UUID
    name: str
    scopes: frozenset[str]
    # the agent whose recovery work this key does; None for a key that acts for nobody
    agent: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _parse(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_MARK or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def check_agent(agent: str, *, scopes: list[str]) -> None:
    if "agent" not in scopes:
        raise InvalidInput("Only a key with the agent scope can act for an agent; add --scope agent.")
    # fullmatch: `$` alone would let a trailing newline through
    if not _AGENT.fullmatch(agent):
        raise InvalidInput(
            f"{agent!r} cannot name an agent: use 1 to 100 characters without spaces, "
            "e.g. the agent's console email."
        )


async def create_api_key(
    conn: asyncpg.Connection,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    agent: str | None = None,
) -> ApiKeyCreated:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"Unknown scope(s) {unknown}; choose from {list(SCOPES)}.")
    if agent is not None:
        check_agent(agent, scopes=scopes)
    for _ in range(3):
        prefix = secrets.token_hex(6)
        key = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            api_key = await queries.insert_api_key(
                conn,
                name=name,
                prefix=prefix,
                secret_hash=hash_key(key),
                scopes=sorted(set(scopes)),
                expires_at=expires_at,
                agent=agent,
            )
        except asyncpg.UniqueViolationError:
            continue  # 48-bit prefix collision: astronomically rare, just draw again
        return ApiKeyCreated(key=key, api_key=api_key)
    raise RuntimeError("could not draw a unique API key prefix")


async def revoke_api_key(conn: asyncpg.Connection | asyncpg.Pool, key_id: UUID) -> ApiKey:
    key = await queries.revoke_api_key(conn, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    return key


class ApiKeyVerifier:
    """Checks bearer keys, remembering good ones for a few seconds.

    The cache saves a database round trip per request; revocation therefore takes
    effect within `ttl` seconds on every replica (FEEDBACK_API_KEY_CACHE_SECONDS).
    """

    def __init__(self, pool: asyncpg.Pool, *, ttl: float, max_entries: int = 10_000) -> None:
        self._pool = pool
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def verify(self, key: str) -> Principal:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._load(key, digest)
        if self._ttl > 0:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        return principal

    async def _load(self, key: str, digest: bytes) -> Principal:
        parsed = _parse(key)
        if parsed is None:
            raise Unauthorized("The API key is malformed: expected `Authorization: Bearer fsk_...`.")
        row = await queries.find_api_key(self._pool, parsed[0])
        if row is None or not hmac.compare_digest(row["secret_hash"], digest):
            raise Unauthorized("The API key is not valid.")
        if row["revoked_at"] is not None:
            raise Unauthorized("The API key was revoked.")
        if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
            raise Unauthorized("The API key has expired.")
        return Principal(
            key_id=row["id"], name=row["name"], scopes=frozenset(row["scopes"]), agent=row["agent"]
        )
