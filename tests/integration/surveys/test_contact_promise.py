"""The thank-you page promises contact by the deadline the recovery task will carry."""

from datetime import timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.settings import Settings
from tests.integration.surveys.test_pages import invited, token

Client = AsyncTestClient[Litestar]


async def test_a_contact_request_is_promised_by_its_rule_deadline(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    await conn.execute("UPDATE recovery_rules SET deadline = '3 hours' WHERE trigger = 'contact_requested'")
    invitation_id, _ = await invited(client, crm)
    page = await client.post(
        f"/s/{token(settings, invitation_id)}", data={"score": "3", "contact_requested": "true"}
    )
    assert page.status_code == 200
    answered_at = await conn.fetchval("SELECT answered_at FROM responses")
    promised = (answered_at + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M UTC")
    assert f"contact you by {promised}" in page.text


async def test_no_promise_without_a_request_or_with_the_rule_off(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    first, _ = await invited(client, crm)
    page = await client.post(f"/s/{token(settings, first)}", data={"score": "3"})
    assert page.status_code == 200
    assert "contact you by" not in page.text

    await conn.execute("UPDATE recovery_rules SET enabled = false WHERE trigger = 'contact_requested'")
    second, _ = await invited(client, crm)
    page = await client.post(
        f"/s/{token(settings, second)}", data={"score": "3", "contact_requested": "true"}
    )
    assert page.status_code == 200
    assert "contact you by" not in page.text
