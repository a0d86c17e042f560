"""Issuing, revoking and verifying keys, without HTTP: what each refusal says, and how long a
verified key is remembered (the cache every request's authentication goes through)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import asyncpg
import pytest

from feedback_svc.apikeys import service
from feedback_svc.apikeys.service import ApiKeyVerifier, Principal, create_api_key, revoke_api_key
from feedback_svc.lib.errors import InvalidInput, NotFound, Unauthorized


def verifier(conn: asyncpg.Connection, *, ttl: float, max_entries: int = 10_000) -> ApiKeyVerifier:
    # the verifier only ever fetches one row: a connection serves as well as a pool
    return ApiKeyVerifier(cast("asyncpg.Pool", conn), ttl=ttl, max_entries=max_entries)


async def test_a_key_verifies_as_its_principal(conn: asyncpg.Connection) -> None:
    created = await create_api_key(
        conn, name="console", scopes=["agent", "crm", "agent"], agent="dan@example.com"
    )
    assert created.api_key.scopes == ["agent", "crm"]
    assert created.key.startswith(f"fsk_{created.api_key.prefix}_")
    principal = await verifier(conn, ttl=0).verify(created.key)
    assert principal == Principal(
        key_id=created.api_key.id, name="console", scopes=frozenset({"agent", "crm"}), agent="dan@example.com"
    )


@pytest.mark.parametrize(
    "key",
    ["fsk_abc", "fsk__secret", "fsk_abc_", "xyz_abc_secret", "fskabcsecret", ""],
)
async def test_a_malformed_key_is_refused_as_malformed(conn: asyncpg.Connection, key: str) -> None:
    with pytest.raises(Unauthorized, match="malformed"):
        await verifier(conn, ttl=0).verify(key)


async def test_a_key_with_another_secret_is_not_valid(conn: asyncpg.Connection) -> None:
    created = await create_api_key(conn, name="crm", scopes=["crm"])
    # the whole message, the same for both: it must not tell a guesser which prefixes exist
    with pytest.raises(Unauthorized, match=r"^The API key is not valid\.$"):
        await verifier(conn, ttl=0).verify(f"fsk_{created.api_key.prefix}_another-secret")
    with pytest.raises(Unauthorized, match=r"^The API key is not valid\.$"):
        await verifier(conn, ttl=0).verify("fsk_000000000000_unknown-prefix")


async def test_an_expired_key_is_refused_and_one_not_yet_expired_works(conn: asyncpg.Connection) -> None:
    now = datetime.now(UTC)
    expired = await create_api_key(conn, name="old", scopes=["crm"], expires_at=now - timedelta(seconds=1))
    current = await create_api_key(conn, name="new", scopes=["crm"], expires_at=now + timedelta(hours=1))
    with pytest.raises(Unauthorized, match="expired"):
        await verifier(conn, ttl=0).verify(expired.key)
    assert (await verifier(conn, ttl=0).verify(current.key)).name == "new"


async def test_a_revoked_key_is_refused_at_once_without_a_cache(conn: asyncpg.Connection) -> None:
    created = await create_api_key(conn, name="crm", scopes=["crm"])
    keys = verifier(conn, ttl=0)
    await keys.verify(created.key)
    revoked = await revoke_api_key(conn, created.api_key.id)
    assert revoked.id == created.api_key.id
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthorized, match="revoked"):
        await keys.verify(created.key)


async def test_revoking_an_unknown_key_is_not_found(conn: asyncpg.Connection) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFound, match=str(unknown)):
        await revoke_api_key(conn, unknown)


class Clock:
    """Stands in for the `time` module the verifier reads its monotonic clock from."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(service, "time", clock)
    return clock


async def test_a_verified_key_is_remembered_for_the_ttl_and_refused_after(
    conn: asyncpg.Connection, clock: Clock
) -> None:
    created = await create_api_key(conn, name="crm", scopes=["crm"])
    keys = verifier(conn, ttl=60)
    principal = await keys.verify(created.key)
    await revoke_api_key(conn, created.api_key.id)
    # revocation takes effect once the remembered answer runs out, within the ttl
    clock.now += 59.5
    assert await keys.verify(created.key) == principal
    clock.now += 0.5
    with pytest.raises(Unauthorized, match="revoked"):
        await keys.verify(created.key)


async def test_a_refused_key_is_not_remembered(conn: asyncpg.Connection, clock: Clock) -> None:
    created = await create_api_key(conn, name="crm", scopes=["crm"])
    await conn.execute("UPDATE api_keys SET revoked_at = now()")
    keys = verifier(conn, ttl=60)
    with pytest.raises(Unauthorized):
        await keys.verify(created.key)
    await conn.execute("UPDATE api_keys SET revoked_at = NULL")
    assert (await keys.verify(created.key)).name == "crm"


async def test_a_full_cache_is_emptied_before_the_next_key_is_remembered(
    conn: asyncpg.Connection, clock: Clock
) -> None:
    first, second, third = [await create_api_key(conn, name=n, scopes=["crm"]) for n in ("a", "b", "c")]
    keys = verifier(conn, ttl=60, max_entries=2)
    await keys.verify(first.key)
    await keys.verify(second.key)
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name IN ('a', 'b')")
    # both remembered: their revocation is not seen yet
    assert (await keys.verify(first.key)).name == "a"
    assert (await keys.verify(second.key)).name == "b"
    # a third key does not fit: the cache is emptied, so both revocations are seen at once
    await keys.verify(third.key)
    for revoked in (first, second):
        with pytest.raises(Unauthorized, match="revoked"):
            await keys.verify(revoked.key)


async def test_a_taken_prefix_is_drawn_again_and_the_third_taken_one_gives_up(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = (await create_api_key(conn, name="first", scopes=["crm"])).api_key.prefix
    draws = [taken, taken, "0123456789ab", taken, taken, taken, "ba9876543210"]
    monkeypatch.setattr(service.secrets, "token_hex", lambda nbytes: draws.pop(0))
    assert (await create_api_key(conn, name="second", scopes=["crm"])).api_key.prefix == "0123456789ab"
    with pytest.raises(RuntimeError, match="unique API key prefix"):
        await create_api_key(conn, name="third", scopes=["crm"])
    assert draws == ["ba9876543210"]
    assert await conn.fetchval("SELECT count(*) FROM api_keys") == 2


@pytest.mark.parametrize(
    ("scopes", "agent", "message"),
    [
        ([], None, "Unknown scope"),
        (["crm", "root"], None, "'root'"),
        (["crm"], "dan", r"^Only a key with the agent scope can act for an agent; add --scope agent\.$"),
        (["agent"], "dan smith", "cannot name an agent"),
        (["agent"], "dan\n", "cannot name an agent"),
    ],
)
async def test_a_key_that_cannot_be_issued_is_refused_and_not_stored(
    conn: asyncpg.Connection, scopes: list[str], agent: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await create_api_key(conn, name="x", scopes=scopes, agent=agent)
    assert await conn.fetchval("SELECT count(*) FROM api_keys") == 0


def test_admin_allows_every_scope_and_other_keys_only_their_own() -> None:
    key_id = uuid.uuid4()
    assert Principal(key_id=key_id, name="ops", scopes=frozenset({"admin"})).allows("crm")
    crm = Principal(key_id=key_id, name="crm", scopes=frozenset({"crm"}))
    assert crm.allows("crm")
    assert not crm.allows("agent")
