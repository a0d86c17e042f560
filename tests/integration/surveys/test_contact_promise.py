"""The thank-you page promises contact by the deadline the recovery task will carry."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.i18n.dates import format_moment
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
    promised = answered_at + timedelta(hours=3)
    written = format_moment(promised, locale="en", time_zone="America/New_York")
    assert f"contact you by {written}." in page.text
    assert written.endswith((" EST", " EDT"))
    assert f"{promised.astimezone(new_york):%-I:%M}" in written
    # the edit window on the same page too, and no UTC time anywhere the customer reads
    assert format_moment(editable_until, locale="en", time_zone="America/New_York") in page.text
    assert "UTC" not in page.text
    # reopening the link (the survey page with its edit note) speaks the same time zone
    again = await client.get(f"/s/{token(settings, invitation_id)}")
    assert format_moment(editable_until, locale="en", time_zone="America/New_York") in again.text


async def test_a_german_customer_reads_the_promise_in_german_in_their_own_time(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    await conn.execute("UPDATE recovery_rules SET deadline = '3 hours' WHERE trigger = 'contact_requested'")
    invitation_id, customer = await invited(client, crm)
    await conn.execute(
        "UPDATE customers SET time_zone = 'Europe/Berlin', locale = 'de' WHERE id = $1", customer["id"]
    )
    await conn.execute("UPDATE invitations SET locale = 'de' WHERE id = $1", invitation_id)
    page = await client.post(
        f"/s/{token(settings, invitation_id)}", data={"score": "3", "contact_requested": "true"}
    )
    assert page.status_code == 200
    answered_at, editable_until = await conn.fetchrow("SELECT answered_at, editable_until FROM responses")
    promised = format_moment(answered_at + timedelta(hours=3), locale="de", time_zone="Europe/Berlin")
    assert promised.endswith((" MEZ", " MESZ"))
    assert f"Wir melden uns bis {promised} bei Ihnen." in page.text
    until = format_moment(editable_until, locale="de", time_zone="Europe/Berlin")
    assert f"Sie können Ihre Antwort bis {until} ändern." in page.text
    assert "UTC" not in page.text
    assert "contact you" not in page.text
    # reopening the link (the survey page with its edit note) speaks the same language and zone
    again = await client.get(f"/s/{token(settings, invitation_id)}")
    assert f"Sie können Ihre Antwort bis {until} ändern." in again.text
    assert "Höchstens 5.000 Zeichen." in again.text


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
