import hashlib

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key


async def test_only_a_hash_of_a_key_is_stored_and_the_key_works(
    client: AsyncTestClient[Litestar], conn: asyncpg.Connection
) -> None:
    created = await create_api_key(conn, name="crm", scopes=["crm"])
    secret = created.key.split("_", 2)[2]
    row = await conn.fetchrow("SELECT * FROM api_keys")
    assert row["secret_hash"] == hashlib.sha256(created.key.encode()).digest()
    assert not any(secret in str(value) for value in row.values())
    headers = {"Authorization": f"Bearer {created.key}"}
    assert (await client.get("/v1/surveys", headers=headers)).status_code == 200
    tampered = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")
    assert (
        await client.get("/v1/surveys", headers={"Authorization": f"Bearer {tampered}"})
    ).status_code == 401
