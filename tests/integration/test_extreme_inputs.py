"""No input of any kind gives a 5xx: dates at the ends of the calendar, offsets that push an
instant past them in UTC, numbers past 64 bits, host names DNS cannot carry.

Each is answered 422 problem+json naming the field, and nothing is written.
"""

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import KeyFactory
from tests.integration.test_bad_requests import assert_problem

Client = AsyncTestClient[Litestar]

# instants Python holds but cannot convert to UTC, and ones it converts but the service would
# overflow with a cooldown or a window; plus the ends of the range the service takes
EXTREME_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2999-12-31T23:59:59-01:00",  # 3000-01-01 in UTC
]
EXTREME_DAYS = ["0001-01-01", "0001-01-02", "9999-12-31", "9999-12-30", "1899-12-31", "3000-01-01"]


@pytest.fixture
async def customer_id(client: Client, crm: dict[str, str]) -> str:
    created = await client.post(
        "/v1/customers", json={"external_id": "edge", "email": "ana@example.com"}, headers=crm
    )
    return created.json()["id"]


async def rows(conn: asyncpg.Connection) -> dict[str, int]:
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM interactions) AS interactions, "
        "(SELECT count(*) FROM customer_events) AS events, "
        "(SELECT count(*) FROM responses) AS responses, "
        "(SELECT count(*) FROM invitations) AS invitations"
    )
    return dict(counts)


@pytest.mark.parametrize("moment", EXTREME_INSTANTS)
async def test_instants_out_of_range_in_bodies_are_refused_by_name(
    client: Client, crm: dict[str, str], conn: asyncpg.Connection, customer_id: str, moment: str
) -> None:
    requests: list[tuple[str, dict[str, Any], str]] = [
        (
            "/v1/interactions",
            {"customer_id": customer_id, "touchpoint": "support_call", "occurred_at": moment},
            "occurred_at",
        ),
        (f"/v1/customers/{customer_id}/events", {"kind": "purchase", "occurred_at": moment}, "occurred_at"),
        (
            "/v1/responses",
            {"customer_id": customer_id, "survey": "nps", "score": 5, "answered_at": moment},
            "answered_at",
        ),
        (
            "/v1/invitations",
            {"customer_id": customer_id, "survey": "nps", "channel": "web", "send_at": moment},
            "send_at",
        ),
    ]
    before = await rows(conn)
    for path, body, field in requests:
        problem = assert_problem(await client.post(path, json=body, headers=crm), 422)
        assert problem["errors"][0]["field"] == field, path
        assert "1900-01-01 to 2999-12-31" in problem["detail"]
    assert await rows(conn) == before


async def test_the_ends_of_the_range_are_accepted(
    client: Client, crm: dict[str, str], customer_id: str
) -> None:
    first = await client.post(
        f"/v1/customers/{customer_id}/events",
        json={"kind": "purchase", "occurred_at": "1900-01-01T00:00:00+00:00"},
        headers=crm,
    )
    assert first.status_code == 201, first.text
    invited = await client.post(
        "/v1/invitations",
        json={
            "customer_id": customer_id,
            "survey": "nps",
            "channel": "web",
            "send_at": "2999-12-31T22:00:00Z",
        },
        headers=crm,
    )
    assert invited.status_code == 201, invited.text


@pytest.mark.parametrize("day", EXTREME_DAYS)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/analytics/scores",
        "/v1/analytics/response-rates",
        "/v1/analytics/drivers",
        "/v1/analytics/recovery",
        "/v1/analytics/responses.csv",
    ],
)
async def test_analytics_days_out_of_range_are_refused(
    client: Client, crm: dict[str, str], path: str, day: str
) -> None:
    for query in ({"to": day}, {"from": day}, {"from": day, "to": day}):
        problem = assert_problem(await client.get(path, params=query, headers=crm), 422)
        assert problem["errors"][0]["field"] in ("from", "to")


@pytest.mark.parametrize(
    "query",
    [
        {"before": "99999999999999999999"},
        {"before": str(2**63)},
        {"since": "9999-12-31T23:59:59-23:00"},
        {"until": "0001-01-01T00:00:00+14:00"},
        {"since": "1899-12-31T00:00:00Z"},
    ],
)
async def test_audit_log_filters_out_of_range_are_refused(
    client: Client, make_key: KeyFactory, query: dict[str, str]
) -> None:
    admin = await make_key("admin")
    assert_problem(await client.get("/v1/audit-log", params=query, headers=admin), 422)


@pytest.mark.parametrize(
    "query", [{"since": "0001-01-01T00:00:00+14:00"}, {"until": "9999-12-31T23:59:59-23:00"}]
)
async def test_an_overflow_anywhere_else_is_still_an_input_error(
    client: Client, make_key: KeyFactory, query: dict[str, str]
) -> None:
    """recovery/effectiveness checks no range itself: the last line of defence answers for it."""
    agent = await make_key("admin")
    problem = assert_problem(await client.get("/v1/recovery/effectiveness", params=query, headers=agent), 422)
    assert "outside the range" in problem["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "http://a..b/",
        "http://.a/",
        "https://" + "a" * 64 + ".example/",
        "https://" + "a." * 127 + "example/",
        "https://exa mple.com/",
        "https://example.com/\n",
        "https://exa\x00mple.com/",
    ],
)
async def test_webhook_urls_dns_cannot_carry_are_refused(
    client: Client, make_key: KeyFactory, conn: asyncpg.Connection, url: str
) -> None:
    admin = await make_key("admin")
    created = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["task.created"]}, headers=admin
    )
    assert_problem(created, 422)
    assert await conn.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
