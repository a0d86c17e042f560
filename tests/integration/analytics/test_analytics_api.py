"""/v1/analytics against hand-computed numbers on answers inserted into a real PostgreSQL."""

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import KeyFactory
from tests.integration.users.console_helpers import log_in, make_user

Client = AsyncTestClient[Litestar]
Z = 1.959963984540054
JAN = "from=2026-01-01&to=2026-01-31"


async def customer(conn: asyncpg.Connection, external_id: str, segment: str = "retail") -> UUID:
    return await conn.fetchval(
        "INSERT INTO customers (external_id, segment) VALUES ($1, $2) RETURNING id", external_id, segment
    )


async def answer(
    conn: asyncpg.Connection,
    customer_id: UUID,
    *,
    kind: str,
    score: int,
    touchpoint: str,
    at: datetime,
    comment: str | None = None,
    channel: str = "email",
) -> None:
    survey_id = await conn.fetchval("SELECT id FROM surveys WHERE kind = $1 ORDER BY key LIMIT 1", kind)
    interaction_id = await conn.fetchval(
        "INSERT INTO interactions (customer_id, touchpoint, occurred_at) VALUES ($1, $2, $3) RETURNING id",
        customer_id,
        touchpoint,
        at - timedelta(hours=2),
    )
    invitation_id = await conn.fetchval(
        """INSERT INTO invitations (survey_id, customer_id, interaction_id, channel, status, reason,
                                    sent_at, expires_at)
           VALUES ($1, $2, $3, $4, 'answered', 'sent', $5::timestamptz,
                   $5::timestamptz + interval '14 days') RETURNING id""",
        survey_id,
        customer_id,
        interaction_id,
        channel,
        at - timedelta(hours=1),
    )
    await conn.execute(
        """INSERT INTO responses (invitation_id, customer_id, survey_id, interaction_id, kind, score,
                                  comment, channel, touchpoint, answered_at, editable_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz,
                   $10::timestamptz + interval '1 day')""",
        invitation_id,
        customer_id,
        survey_id,
        interaction_id,
        kind,
        score,
        comment,
        channel,
        touchpoint,
        at,
    )


@pytest.fixture
async def january(conn: asyncpg.Connection) -> None:
    """Delivery: 10, 10, 9, 8, 3 (NPS 40); billing: 10, 2, 5, 6, 7 (NPS -40); all: NPS 0."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index, (touchpoint, score) in enumerate(
        [("delivery", s) for s in (10, 10, 9, 8, 3)] + [("billing", s) for s in (10, 2, 5, 6, 7)]
    ):
        who = await customer(conn, f"c{index}", "retail" if index % 2 else "business")
        await answer(
            conn, who, kind="nps", score=score, touchpoint=touchpoint, at=start + timedelta(days=index * 3)
        )
    # outside the window on both sides: must not count
    outsider = await customer(conn, "outside")
    await answer(conn, outsider, kind="nps", score=0, touchpoint="delivery", at=start - timedelta(minutes=1))
    await answer(
        conn, outsider, kind="nps", score=0, touchpoint="delivery", at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    # one sent invitation nobody answered
    survey_id = await conn.fetchval("SELECT id FROM surveys WHERE kind = 'nps' LIMIT 1")
    await conn.execute(
        """INSERT INTO invitations (survey_id, customer_id, channel, status, reason, sent_at, expires_at)
           VALUES ($1, $2, 'sms', 'sent', 'sent', '2026-01-20', '2026-02-20')""",
        survey_id,
        outsider,
    )


@pytest.mark.usefixtures("january")
async def test_nps_overall_and_by_touchpoint_match_hand_computation(
    client: Client, crm: dict[str, str]
) -> None:
    response = await client.get(f"/v1/analytics/scores?kind=nps&by=touchpoint&{JAN}", headers=crm)
    assert response.status_code == 200, response.text
    report = response.json()
    overall = report["overall"]
    # 4 promoters, 4 detractors of 10: NPS 0, var = (0.8 - 0) / 10
    assert overall["n"] == 10
    assert overall["value"] == pytest.approx(0.0)
    assert overall["high"] == pytest.approx(Z * 100 * math.sqrt(0.08))
    assert overall["high"] == pytest.approx(55.437, abs=1e-3)
    assert overall["small_sample"] is True
    groups = {g["group"]: g["estimate"] for g in report["groups"]}
    # delivery: 3 promoters, 1 detractor of 5: NPS 40, var = (0.8 - 0.16) / 5 = 0.128
    assert groups["delivery"]["value"] == pytest.approx(40.0)
    assert groups["delivery"]["low"] == pytest.approx(40 - Z * 100 * math.sqrt(0.128))
    assert groups["delivery"]["high"] == 100.0  # 110.1 clipped to the scale
    assert groups["billing"]["value"] == pytest.approx(-40.0)
    assert groups["billing"]["low"] == -100.0
    assert "normal-approximation" in report["method"]


@pytest.mark.usefixtures("january")
async def test_scores_by_week_split_the_answers(client: Client, crm: dict[str, str]) -> None:
    report = (await client.get(f"/v1/analytics/scores?period=week&{JAN}", headers=crm)).json()
    assert sum(g["estimate"]["n"] for g in report["groups"]) == 10
    # 2026-01-01 is a Thursday: its answers fall in the week starting Monday 2025-12-29
    assert report["groups"][0]["period"] == "2025-12-29"


@pytest.mark.usefixtures("january")
async def test_response_rate_counts_sent_invitations(client: Client, crm: dict[str, str]) -> None:
    report = (await client.get(f"/v1/analytics/response-rates?by=channel&{JAN}", headers=crm)).json()
    assert (report["overall"]["sent"], report["overall"]["answered"]) == (11, 10)
    channels = {g["group"]: (g["sent"], g["answered"]) for g in report["groups"]}
    assert channels == {"email": (10, 10), "sms": (1, 0)}


@pytest.mark.usefixtures("january")
async def test_drivers_compare_each_touchpoint_with_the_rest(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    # c1 and c3 churn: both met delivery (c0-c4)
    await conn.execute(
        """INSERT INTO customer_events (customer_id, kind, occurred_at)
           SELECT id, 'churned', '2026-01-25' FROM customers WHERE external_id IN ('c1', 'c3')"""
    )
    report = (await client.get(f"/v1/analytics/drivers?{JAN}", headers=crm)).json()
    detractors = {d["touchpoint"]: d for d in report["detractors"]}
    # billing: 3 of 5 detractors vs delivery 1 of 5: +40 points, risk ratio 3
    billing = detractors["billing"]
    assert (billing["exposed_events"], billing["exposed_n"]) == (3, 5)
    assert (billing["unexposed_events"], billing["unexposed_n"]) == (1, 5)
    assert billing["difference_points"]["value"] == pytest.approx(40.0)
    assert billing["risk_ratio"] == pytest.approx(3.0)
    se = math.sqrt(1 / 3 - 1 / 5 + 1 / 1 - 1 / 5)
    assert billing["risk_ratio_low"] == pytest.approx(3 * math.exp(-Z * se))
    assert report["detractors"][0]["touchpoint"] == "billing"  # strongest first
    churn = {d["touchpoint"]: d for d in report["churn"]}
    # 10 customers met a touchpoint in January; 2 of 5 delivery customers churned, 0 of 5 others
    delivery = churn["delivery"]
    assert (delivery["exposed_events"], delivery["exposed_n"]) == (2, 5)
    assert (delivery["unexposed_events"], delivery["unexposed_n"]) == (0, 5)
    assert delivery["difference_points"]["value"] == pytest.approx(40.0)
    assert delivery["risk_ratio"] is None


async def test_csv_export_escapes_and_defuses_formulas(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection
) -> None:
    who = await customer(conn, "=cmd|' /C calc'!A0")
    at = datetime(2026, 1, 10, tzinfo=UTC)
    tricky = 'Late, "again"\nsecond line'
    await answer(conn, who, kind="csat", score=2, touchpoint="delivery", at=at, comment=tricky)
    await answer(conn, who, kind="csat", score=5, touchpoint="delivery", at=at + timedelta(hours=1),
                 comment='=HYPERLINK("http://evil.example","click")')  # fmt: skip
    await answer(
        conn, who, kind="csat", score=4, touchpoint="delivery", at=at + timedelta(hours=2), comment="-1+2"
    )
    response = await client.get(f"/v1/analytics/responses.csv?kind=csat&{JAN}", headers=crm)
    assert response.status_code == 200
    # one charset parameter: Litestar adds it to text/* itself
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["comment"] for row in rows] == [
        tricky,
        '\'=HYPERLINK("http://evil.example","click")',
        "'-1+2",
    ]
    assert rows[0]["customer_external_id"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["score"] == "2"
    assert rows[0]["answered_at"].startswith("2026-01-10T00:00:00")


async def test_analytics_needs_the_crm_scope_and_valid_parameters(
    client: Client, crm: dict[str, str], make_key: KeyFactory
) -> None:
    assert (await client.get("/v1/analytics/scores")).status_code == 401
    agent = await make_key("agent", name="agent")
    refused = await client.get("/v1/analytics/scores", headers=agent)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    admin = await make_key("admin", name="admin")
    assert (await client.get("/v1/analytics/scores", headers=admin)).status_code == 200
    bad_kind = await client.get("/v1/analytics/scores?kind=happiness", headers=crm)
    assert bad_kind.status_code == 422
    assert bad_kind.headers["content-type"].startswith("application/problem+json")
    backwards = await client.get("/v1/analytics/drivers?from=2026-02-01&to=2026-01-01", headers=crm)
    assert backwards.status_code == 422
    assert "must not be after" in backwards.json()["detail"]
    not_a_date = await client.get("/v1/analytics/responses.csv?from=yesterday", headers=crm)
    assert not_a_date.status_code == 422


async def reminded(
    conn: asyncpg.Connection, *, sent: datetime, reminder_at: datetime | None, answered_at: datetime | None
) -> None:
    """An email invitation sent at `sent`, reminded at `reminder_at`, answered at `answered_at`."""
    who = await customer(conn, f"r-{sent.isoformat()}-{reminder_at}-{answered_at}")
    survey_id = await conn.fetchval("SELECT id FROM surveys WHERE key = 'nps'")
    invitation_id = await conn.fetchval(
        """INSERT INTO invitations (survey_id, customer_id, channel, status, reason, sent_at, expires_at,
                                    reminders_sent, last_reminded_at)
           VALUES ($1, $2, 'email', $3, 'sent', $4::timestamptz, $4::timestamptz + interval '14 days', $5, $6)
           RETURNING id""",
        survey_id, who, "answered" if answered_at else "sent", sent,
        int(reminder_at is not None), reminder_at,
    )  # fmt: skip
    if reminder_at is not None:
        await conn.execute(
            "INSERT INTO invitation_reminders (invitation_id, number, status, channel, due_at, sent_at) "
            "VALUES ($1, 1, 'sent', 'email', $2, $2)",
            invitation_id,
            reminder_at,
        )
    if answered_at is not None:
        await conn.execute(
            """INSERT INTO responses (invitation_id, customer_id, survey_id, kind, score, channel,
                                      answered_at, editable_until)
               VALUES ($1, $2, $3, 'nps', 9, 'email', $4::timestamptz, $4::timestamptz + interval '1 day')""",
            invitation_id, who, survey_id, answered_at,
        )  # fmt: skip


@pytest.fixture
async def reminders_in_january(conn: asyncpg.Connection) -> None:
    """Five invitations sent in January: two answered before any reminder (one of them just as
    its reminder went out), one answered after its reminder, one reminded and never answered,
    one neither reminded nor answered."""
    day = datetime(2026, 1, 10, 12, tzinfo=UTC)
    three_days = timedelta(days=3)
    await reminded(conn, sent=day, reminder_at=None, answered_at=day + timedelta(hours=2))
    await reminded(
        conn, sent=day, reminder_at=day + three_days, answered_at=day + three_days - timedelta(seconds=1)
    )
    await reminded(
        conn, sent=day, reminder_at=day + three_days, answered_at=day + three_days + timedelta(hours=5)
    )
    await reminded(conn, sent=day, reminder_at=day + three_days, answered_at=None)
    await reminded(conn, sent=day, reminder_at=None, answered_at=None)


@pytest.mark.usefixtures("reminders_in_january")
async def test_response_rates_with_and_without_reminders(client: Client, crm: dict[str, str]) -> None:
    report = (await client.get(f"/v1/analytics/response-rates?{JAN}", headers=crm)).json()
    overall = report["overall"]
    assert (overall["sent"], overall["answered"]) == (5, 3)
    assert (overall["answered_before_reminder"], overall["answered_after_reminder"]) == (2, 1)
    assert overall["reminded"] == 3
    assert overall["rate"]["value"] == pytest.approx(60.0)
    assert overall["rate_without_reminders"]["value"] == pytest.approx(40.0)
    assert overall["rate_after_reminder"]["value"] == pytest.approx(100 / 3)
    assert (overall["rate_without_reminders"]["n"], overall["rate_after_reminder"]["n"]) == (5, 3)
    by_week = (await client.get(f"/v1/analytics/response-rates?period=week&{JAN}", headers=crm)).json()
    [week] = by_week["groups"]
    assert (week["answered_before_reminder"], week["reminded"], week["answered_after_reminder"]) == (2, 3, 1)


@pytest.mark.usefixtures("reminders_in_january")
async def test_the_analytics_page_shows_the_rate_without_reminders(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email="boss@example.com", role="manager")
    await log_in(client, "boss@example.com")
    page = (await client.get("/console/analytics?date_from=2026-01-01&date_to=2026-01-31")).text
    tile = page[page.index('id="response-rate"') : page.index("</li>", page.index('id="response-rate"'))]
    assert "3 answered of 5 sent" in tile
    assert "Without reminders 40.0% (2 answered before any reminder)" in tile
    assert "3 reminded, 1 of them answered after it (33.3%)" in tile
