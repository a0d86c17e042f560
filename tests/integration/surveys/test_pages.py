"""The survey and unsubscribe pages over HTTP on a real database (the browser tests drive them too)."""

import uuid
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.settings import Settings
from feedback_svc.surveys.tokens import token_for

Client = AsyncTestClient[Litestar]


async def invited(
    client: Client, crm: dict[str, str], *, channel: str = "web", survey: str = "nps", locale: str = "en"
) -> tuple[str, dict[str, Any]]:
    customer = (
        await client.post(
            "/v1/customers",
            json={
                "external_id": f"p-{uuid.uuid4().hex[:8]}",
                "email": "Ana@Example.com",
                "phone": "+4915112345678",
                "locale": locale,
            },
            headers=crm,
        )
    ).json()
    invitation = (
        await client.post(
            "/v1/invitations",
            json={"customer_id": customer["id"], "survey": survey, "channel": channel},
            headers=crm,
        )
    ).json()
    return invitation["id"], customer


def token(settings: Settings, invitation_id: str) -> str:
    assert settings.secret_key
    return token_for(settings.secret_key, uuid.UUID(invitation_id))


async def test_opening_a_score_link_preselects_it_and_records_nothing(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm)
    page = await client.get(f"/s/{token(settings, invitation_id)}?score=9")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'id="score-9" value="9" checked' in page.text
    assert page.text.count(" checked") == 1
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_submitting_the_form_stores_the_answer_and_thanks(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm)
    url = f"/s/{token(settings, invitation_id)}"
    form = {"score": "4", "comment": "<script>alert(1)</script> slow", "contact_requested": "true"}
    thanks = await client.post(url, data=form)
    assert thanks.status_code == 200, thanks.text
    assert "set-cookie" not in thanks.headers
    row = await conn.fetchrow("SELECT score, comment, contact_requested, channel FROM responses")
    assert dict(row) == {
        "score": 4,
        "comment": "<script>alert(1)</script> slow",
        "contact_requested": True,
        "channel": "web",
    }
    # editing while the window is open changes the same answer and shows it escaped
    again = await client.get(url)
    assert "&lt;script&gt;" in again.text
    assert "<script>alert" not in again.text
    edited = await client.post(url, data={"score": "8", "comment": "better now"})
    assert edited.status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM responses") == 1
    assert await conn.fetchval("SELECT score FROM responses") == 8
    events = await conn.fetch("SELECT payload->>'type' AS type FROM outbox WHERE topic = 'event' ORDER BY id")
    assert [e["type"] for e in events] == ["response.created", "response.updated"]


# Python's int() and str.isdigit() take far more than a browser ever sends: Unicode digits
# (superscripts, Arabic-Indic, fullwidth), signs, spaces inside, underscores, and numbers
# too long to convert at all (over 4300 digits)
NOT_A_SCORE = [
    "",
    "11",
    "-1",
    "+5",
    "nine",
    "4.5",
    "\u00b2",
    "\u0663",
    "\uff15",
    "1_0",
    "5\n5",
    "0x5",
    "9" * 5000,
    "0" * 4999 + "5",
    "99999999999999999999",
]


@pytest.mark.parametrize("score", NOT_A_SCORE)
async def test_invalid_score_shows_the_form_again_and_stores_nothing(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection, score: str
) -> None:
    invitation_id, _ = await invited(client, crm)
    page = await client.post(f"/s/{token(settings, invitation_id)}", data={"score": score, "comment": "kept"})
    assert page.status_code == 422
    assert "kept" in page.text  # what was valid is not lost
    assert 'aria-invalid="true"' in page.text
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


@pytest.mark.parametrize("score", [s for s in NOT_A_SCORE if s])
async def test_a_link_whose_score_is_not_on_the_scale_says_so_on_the_page(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection, score: str
) -> None:
    invitation_id, _ = await invited(client, crm)
    page = await client.get(f"/s/{token(settings, invitation_id)}", params={"score": score})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "carries a score this survey does not have. Choose a score from 0 to 10." in page.text
    assert " checked" not in page.text
    if len(score) > 3:
        assert score not in page.text  # a long input is never echoed
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0


async def test_the_score_messages_speak_the_customers_language(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm, survey="csat", locale="de")
    url = f"/s/{token(settings, invitation_id)}"
    link = await client.get(url, params={"score": "\u00b2"})
    form = await client.post(url, data={"score": "6"})
    assert link.status_code == form.status_code == 422
    assert "Wählen Sie eine Bewertung von 1 bis 5." in link.text
    assert "Wählen Sie eine Bewertung von 1 bis 5." in form.text


async def test_a_form_field_sent_twice_or_not_at_all_is_a_message_not_an_error(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm)
    url = f"/s/{token(settings, invitation_id)}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    twice = await client.post(url, content=b"score=3&score=%C2%B2&comment=a&comment=b", headers=form)
    nothing = await client.post(url, content=b"", headers=form)
    garbage = await client.post(url, content=b"%ff%00=%zz", headers=form)
    assert (twice.status_code, nothing.status_code, garbage.status_code) == (422, 422, 422)
    assert await conn.fetchval("SELECT count(*) FROM responses") == 0
    # the last value counts, as a browser would read it
    last = await client.post(url, content=b"score=%C2%B2&score=3&comment=a%00b", headers=form)
    assert last.status_code == 200, last.text
    assert await conn.fetchval("SELECT score FROM responses") == 3


async def test_unknown_expired_and_malformed_tokens_get_the_same_page(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, _ = await invited(client, crm)
    await conn.execute("UPDATE invitations SET expires_at = now() - interval '1 second'")
    expired = await client.get(f"/s/{token(settings, invitation_id)}")
    unknown = await client.get(f"/s/{token(settings, str(uuid.uuid4()))}")
    malformed = await client.get("/s/not-a-token")
    assert expired.status_code == unknown.status_code == malformed.status_code == 404
    assert expired.text == unknown.text == malformed.text


async def test_one_click_unsubscribe_is_idempotent_without_cookie_or_redirect(
    client: Client, crm: dict[str, str], settings: Settings, conn: asyncpg.Connection
) -> None:
    invitation_id, customer = await invited(client, crm, channel="email")
    url = f"/u/{token(settings, invitation_id)}"
    scanner = await client.get(url)  # a mail scanner following the link changes nothing
    assert scanner.status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM suppressions") == 0
    for _ in range(2):
        response = await client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert "location" not in response.headers
    rows = await conn.fetch("SELECT channel, address, reason FROM suppressions WHERE lifted_at IS NULL")
    assert [dict(r) for r in rows] == [
        {"channel": "email", "address": "ana@example.com", "reason": "unsubscribe"}
    ]
    events = await conn.fetch("SELECT payload FROM outbox WHERE payload->>'type' = 'customer.opted_out'")
    assert len(events) == 1
    assert events[0]["payload"]["data"]["customer_id"] == customer["id"]
    # the next invitation by email is now suppressed or moved to SMS
    nxt = (
        await client.post(
            "/v1/invitations",
            json={"customer_id": customer["id"], "survey": "csat", "channel": "email"},
            headers=crm,
        )
    ).json()
    assert nxt["channel"] != "email"


async def test_static_stylesheet_is_served(client: Client) -> None:
    css = await client.get("/static/survey.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
