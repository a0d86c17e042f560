"""The thank-you page promises contact by the deadline the recovery task will carry."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.settings import Settings
from tests.integration.surveys.test_pages import invited, token

Client = AsyncTestClient[Litestar]


async def test_a_contact_request_is_promised_by_its_rule_deadline_in_the_customers_time(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    await conn.execute("UPDATE recovery_rules SET deadline = '3 hours' WHERE trigger = 'contact_requested'")
    invitation_id, customer = await invited(client, crm)
    await conn.execute("UPDATE customers SET time_zone = 'America/New_York' WHERE id = $1", customer["id"])
    page = await client.post(
        f"/s/{token(settings, invitation_id)}", data={"score": "3", "contact_requested": "true"}
    )
    assert page.status_code == 200
    answered_at, editable_until = await conn.fetchrow("SELECT answered_at, editable_until FROM responses")
    new_york = ZoneInfo("America/New_York")
    promised = (answered_at + timedelta(hours=3)).astimezone(new_york)
    assert f"contact you by {promised:%Y-%m-%d %H:%M} {promised.tzname()}" in page.text
    assert promised.tzname() in ("EST", "EDT")
    # the edit window on the same page too, and no UTC time anywhere the customer reads
    until = editable_until.astimezone(new_york)
    assert f"{until:%Y-%m-%d %H:%M} {until.tzname()}" in page.text
    assert "UTC" not in page.text

    # reopening the link (the survey page with its edit note) speaks the same time zone
    again = await client.get(f"/s/{token(settings, invitation_id)}")
    assert f"{until:%Y-%m-%d %H:%M} {until.tzname()}" in again.text


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
