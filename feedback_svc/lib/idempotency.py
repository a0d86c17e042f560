"""Idempotency-Key for every mutating API-key request, kept in the same transaction as the work.

Because the key, the work and the stored response commit together, a crash can
never leave work done without its replayable response, or the reverse. A replay
returns the first response byte for byte; the same key with another body is 422;
a replay while the first request is still running is 409. Keys are scoped to the
API key that sent them.

A handler declares `idempotency_key: IdempotencyKey = None` and answers with
`await respond_idempotently(request, pool, idempotency_key, work)`, where `work`
does all its database work on the connection it is given.

A hot endpoint may also give `at_once`: one statement that writes the work, the key and
the reply together (see surveys/keyed_answers.sql), tried first with a key. It answers
None when it wrote nothing, and a key already taken fails it with a unique violation of
the key (nothing written either); both then take the usual path, which says why. It takes
its own connection (or shares a statement with others, lib/group_commit.py): no connection
is held while it waits.
"""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from litestar import Request, Response
from litestar.params import HeaderParameter
from litestar.types import Scope

from feedback_svc.apikeys.service import Principal
from feedback_svc.audit.actions import is_audited, record_api_action
from feedback_svc.db.sql import load_queries
from feedback_svc.lib.bounds import ecma_regex
from feedback_svc.lib.errors import Conflict, InvalidInput
from feedback_svc.lib.json_reply import JsonReply

Q = load_queries(Path(__file__).with_name("idempotency.sql"))

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_FOR = timedelta(hours=24)
# in the OpenAPI document as it is; checked with the document's meaning (no "key\n")
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
# how long a replay waits for the first request before answering 409
IN_FLIGHT_WAIT = "200ms"

# the key's primary key: a one-statement work's insert of a taken key fails on it
KEY_CONSTRAINT = "idempotency_keys_pkey"

Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class KeyToClaim:
    """What a one-statement work needs to insert the key with its reply itself."""

    api_key_id: UUID
    key: str
    method: str
    path: str
    request_hash: bytes
    keep_for: timedelta = KEEP_FOR
    lock_wait: str = IN_FLIGHT_WAIT


AtOnce = Callable[[KeyToClaim], Awaitable[tuple[int, bytes] | None]]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        description="Makes a retry safe: for 24 h the first successful response is replayed (with "
        f"`{REPLAYED_HEADER}: true`) to the same API key; the same key with another request is refused "
        "with 422, and 409 while the first request is still running. Errors are not kept: a retry after "
        "one runs again. 1-255 visible ASCII characters; a UUID is a good choice.",
        # documented, not enforced by Litestar: check_key's 422 names the header and says what fits
        schema_extra={"minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    ),
]


def check_key(key: str) -> str:
    if not ecma_regex(KEY_PATTERN).search(key):
        raise InvalidInput(
            f"The {HEADER} header must be 1-255 visible ASCII characters (a UUID is a good choice).",
            errors=[{"field": HEADER, "message": "1-255 visible ASCII characters", "source": "header"}],
        )
    return key


def in_flight() -> Conflict:
    """The 409 for a key whose first request is still running."""
    return Conflict(
        f"A request with this {HEADER} is still being processed; retry in a moment.",
        headers={"Retry-After": "1"},
    )


def request_hash(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).digest()


async def run_idempotent(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    key: str | None,
    method: str,
    path: str,
    body: bytes,
    work: Work,
    scope: Scope | None = None,
    one_statement: bool = False,
    at_once: AtOnce | None = None,
) -> tuple[int, bytes, bool]:
    """Run `work` in a transaction once per key; returns (status, body, replayed).

    With the request's `scope`, an agent's or admin's action is audited in that transaction.
    `one_statement` says `work` writes with a single statement (it may read after a refusal).
    `at_once` is tried first for a key when nothing is audited (see the module's docstring).
    """
    audited = scope is not None and is_audited(principal)

    async def work_and_audit(conn: asyncpg.Connection) -> tuple[int, bytes]:
        status, content = await work(conn)
        if audited and 200 <= status < 300:
            await record_api_action(conn, scope, principal, status)  # type: ignore[arg-type]
        return status, content

    digest = request_hash(method, path, body) if key is not None else b""
    if key is not None and at_once is not None and not audited:
        done = await _try_at_once(at_once, KeyToClaim(principal.key_id, key, method, path, digest))
        if done is not None:
            return *done, False
    async with pool.acquire() as conn:
        if key is None and one_statement and not audited:
            # a single statement is atomic and durable on its own: BEGIN and COMMIT would be two
            # more round trips, each costing the server as much CPU as the statement itself
            status, content = await work(conn)
            return status, content, False
        if key is None:
            async with conn.transaction():
                status, content = await work_and_audit(conn)
            return status, content, False
        try:
            async with conn.transaction():
                claimed = await conn.fetchval(
                    Q["claim_idempotency_key"],
                    principal.key_id,
                    key,
                    method,
                    path,
                    digest,
                    KEEP_FOR,
                    IN_FLIGHT_WAIT,
                )
                if claimed:
                    status, content = await work_and_audit(conn)
                    await conn.execute(Q["store_idempotent_response"], principal.key_id, key, status, content)
                    return status, content, False
        except asyncpg.LockNotAvailableError:
            raise in_flight() from None
        stored = await conn.fetchrow(Q["stored_idempotent_response"], principal.key_id, key)
    if stored is None or stored["response_status"] is None:
        raise in_flight()
    if stored["request_hash"] != digest:
        raise InvalidInput(
            f"This {HEADER} was used for a different request ({stored['method']} {stored['path']} with "
            "another body); use a new key for a new request.",
            errors=[{"field": HEADER, "message": "reused with a different request", "source": "header"}],
        )
    return stored["response_status"], stored["response_body"], True


async def _try_at_once(at_once: AtOnce, claim: KeyToClaim) -> tuple[int, bytes] | None:
    """The one statement's reply, or None when it wrote nothing (the usual path then runs)."""
    try:
        return await at_once(claim)
    except asyncpg.LockNotAvailableError:
        raise in_flight() from None
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name != KEY_CONSTRAINT:
            raise
        return None


async def respond_idempotently(
    request: Request[Principal, Any, Any],
    pool: asyncpg.Pool,
    key: str | None,
    work: Work,
    *,
    one_statement: bool = False,
    at_once: AtOnce | None = None,
) -> Response[Any]:
    """Answer with what `work` answered, or with what it answered the first time for this key.

    An error raised by `work` rolls back its claim on the key together with whatever it
    wrote, so nothing is stored: a retry after a 404 or 409 runs the work again.
    """
    # the query string is part of the request: `?force=true` must not replay a refusal without it
    path = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    status, body, replayed = await run_idempotent(
        pool,
        principal=request.user,
        key=check_key(key) if key is not None else None,
        method=request.method,
        path=path,
        body=await request.body(),
        work=work,
        scope=request.scope,
        one_statement=one_statement,
        at_once=at_once,
    )
    return reply(status, body, replayed=replayed)


def reply(status: int, body: bytes, *, replayed: bool) -> Response[Any]:
    """The stored bytes as they are; a 204 stays empty."""
    return JsonReply(body, status=status, headers={REPLAYED_HEADER: "true"} if replayed else None)
