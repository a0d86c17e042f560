"""/v1/touchpoints: the rules read by the CRM and set by an admin, reminders included."""

from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory

Client = AsyncTestClient[Litestar]

RULE: dict[str, Any] = {
    "name": "Returns desk",
    "survey": "csat",
    "critical": True,
    "invite_delay_minutes": 30,
    "reminder_count": 2,
    "reminder_delay_hours": 48,
}


@pytest.fixture
async def admin(make_key: KeyFactory) -> dict[str, str]:
    return await make_key("admin", name="ops")


async def test_the_shipped_rules_follow_the_default_one_reminder_after_three_days(
    client: Client, crm: dict[str, str]
) -> None:
    listed = await client.get("/v1/touchpoints", headers=crm)
    assert listed.status_code == 200, listed.text
    rules = {rule["key"]: rule for rule in listed.json()}
    assert set(rules) == {
        "billing", "cancellation", "delivery", "onboarding", "relationship", "support_call", "support_chat"
    }  # fmt: skip
    delivery = rules["delivery"]
    assert (delivery["survey"], delivery["critical"], delivery["invite_delay_minutes"]) == ("csat", True, 120)
    assert (delivery["reminder_count"], delivery["reminder_delay_hours"]) == (None, None)
    assert delivery["reminders"] == {"count": 1, "delay_hours": 72.0}


async def test_the_services_setting_is_the_default_shown(settings: Settings, crm: dict[str, str]) -> None:
    app = create_app(msgspec.structs.replace(settings, reminder_count=0, reminder_delay_hours=24))
    async with AsyncTestClient(app=app) as client:
        rules = (await client.get("/v1/touchpoints", headers=crm)).json()
    assert {tuple(rule["reminders"].values()) for rule in rules} == {(0, 24.0)}


async def test_an_admin_sets_a_rule_and_an_interaction_follows_it(
    client: Client, crm: dict[str, str], admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    created = await client.put("/v1/touchpoints/returns", json=RULE, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in RULE} == RULE
    assert body["reminders"] == {"count": 2, "delay_hours": 48.0}

    changed = await client.put(
        "/v1/touchpoints/returns", json={**RULE, "reminder_count": None}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["reminder_count"], changed.json()["reminders"]["count"]) == (None, 1)
    listed = {rule["key"]: rule for rule in (await client.get("/v1/touchpoints", headers=crm)).json()}
    assert listed["returns"] == changed.json()

    customer = await client.post(
        "/v1/customers", json={"external_id": "crm-7", "email": "ana@example.com"}, headers=crm
    )
    recorded = await client.post(
        "/v1/interactions",
        json={
            "customer_id": customer.json()["id"],
            "touchpoint": "returns",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers=crm,
    )
    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["interaction"]["critical"], recorded.json()["invitation"]["survey"]) == (
        True,
        "csat",
    )
    audited = await conn.fetch("SELECT action FROM audit_log ORDER BY id")
    assert [row["action"] for row in audited] == ["PUT /v1/touchpoints/{key}"] * 2


async def test_a_rule_chooses_the_channel_and_its_own_cooldown(
    client: Client, crm: dict[str, str], admin: dict[str, str]
) -> None:
    rule = {**RULE, "invite_delay_minutes": 0, "channel_preference": "sms", "cooldown_days": 0}
    put = await client.put("/v1/touchpoints/returns", json=rule, headers=admin)
    assert put.status_code == 201, put.text
    assert (put.json()["channel_preference"], put.json()["cooldown_days"]) == ("sms", 0.0)
    customer = await client.post(
        "/v1/customers",
        # quiet hours may schedule the SMS for the morning: the channel is chosen either way
        json={"external_id": "crm-9", "email": "ana@example.com", "phone": "+4915112345678"},
        headers=crm,
    )

    async def interaction(touchpoint: str, **extra: str) -> dict[str, Any]:
        recorded = await client.post(
            "/v1/interactions",
            json={
                "customer_id": customer.json()["id"],
                "touchpoint": touchpoint,
                "occurred_at": datetime.now(UTC).isoformat(),
                **extra,
            },
            headers=crm,
        )
        assert recorded.status_code == 201, recorded.text
        return recorded.json()["invitation"]

    # the rule prefers SMS over the email a customer with both would otherwise get
    first = await interaction("returns")
    assert first["channel"] == "sms", first
    # its cooldown of 0 days lets the next return survey again at once; the survey's own
    # 30 days would have held it back
    second = await interaction("returns", channel_preference="email")
    assert second["status"] != "suppressed", second
    # and the CRM's preference for this interaction beats the rule's
    assert second["channel"] == "email", second
    # another touchpoint keeps the survey's cooldown
    other = await interaction("delivery")
    assert (other["status"], other["reason"].split(",")[0]) == ("suppressed", "suppressed: cooldown"), other

    # null puts the defaults back
    reset = await client.put("/v1/touchpoints/returns", json=RULE, headers=admin)
    assert (reset.json()["channel_preference"], reset.json()["cooldown_days"]) == (None, None)
    third = await interaction("returns")
    assert (third["status"], third["reason"].split(",")[0]) == ("suppressed", "suppressed: cooldown"), third


async def test_no_survey_means_no_invitation(
    client: Client, crm: dict[str, str], admin: dict[str, str]
) -> None:
    quiet = await client.put("/v1/touchpoints/internal", json={**RULE, "survey": None}, headers=admin)
    assert quiet.status_code == 201, quiet.text
    customer = await client.post(
        "/v1/customers", json={"external_id": "crm-8", "email": "ana@example.com"}, headers=crm
    )
    recorded = await client.post(
        "/v1/interactions",
        json={
            "customer_id": customer.json()["id"],
            "touchpoint": "internal",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers=crm,
    )
    assert recorded.json()["invitation"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"survey": "no-such-survey"}, "survey"),
        ({"reminder_count": 4}, "reminder_count"),
        ({"reminder_count": -1}, "reminder_count"),
        ({"reminder_delay_hours": 0.5}, "reminder_delay_hours"),
        ({"reminder_delay_hours": 24 * 31}, "reminder_delay_hours"),
        ({"invite_delay_minutes": -1}, "invite_delay_minutes"),
        ({"name": ""}, "name"),
        ({"channel_preference": "fax"}, "channel_preference"),
        ({"cooldown_days": -1}, "cooldown_days"),
    ],
)
async def test_a_rule_out_of_bounds_is_refused_and_nothing_changes(
    client: Client, admin: dict[str, str], change: dict[str, Any], field: str
) -> None:
    refused = await client.put("/v1/touchpoints/delivery", json={**RULE, **change}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert field in refused.text
    rules = {rule["key"]: rule for rule in (await client.get("/v1/touchpoints", headers=admin)).json()}
    assert rules["delivery"]["name"] == "Delivery"


async def test_a_key_that_is_no_slug_is_refused(client: Client, admin: dict[str, str]) -> None:
    refused = await client.put("/v1/touchpoints/Not%20A%20Key", json=RULE, headers=admin)
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"] == "application/problem+json"


async def test_only_an_admin_key_changes_rules(
    client: Client, crm: dict[str, str], make_key: KeyFactory
) -> None:
    assert (await client.put("/v1/touchpoints/delivery", json=RULE, headers=crm)).status_code == 403
    agent = await make_key("agent", name="agent")
    assert (await client.put("/v1/touchpoints/delivery", json=RULE, headers=agent)).status_code == 403
    assert (await client.get("/v1/touchpoints", headers=agent)).status_code == 403


async def test_a_replayed_change_answers_as_the_first(client: Client, admin: dict[str, str]) -> None:
    headers = {**admin, "Idempotency-Key": "rule-1"}
    first = await client.put("/v1/touchpoints/returns", json=RULE, headers=headers)
    again = await client.put("/v1/touchpoints/returns", json=RULE, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


async def test_a_key_with_a_trailing_newline_is_refused_not_stored(
    client: Client, admin: dict[str, str]
) -> None:
    refused = await client.put("/v1/touchpoints/returns%0A", json=RULE, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "key"
