"""The alert rules and the alerts record over HTTP: admin only, validated, recorded."""

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.app import create_app
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.integration.alerts.conftest import BASE_URL, Team, hours_from_now, sweeper
from tests.integration.recovery.conftest import insert_customer, insert_task

Client = AsyncTestClient[Litestar]


async def test_rules_are_listed_per_trigger_and_urgency_and_changed_by_an_admin(
    client: Client, admin: dict[str, str], make_key: KeyFactory, team: Team
) -> None:
    listed = await client.get("/v1/alerts/rules", headers=admin)
    assert listed.status_code == 200
    rules = {(r["trigger"], r["urgency"]): r for r in listed.json()}
    assert len(rules) == 8
    assert rules[("escalated", "normal")]["recipients"] == {
        "owner": True, "roles": ["manager"], "users": [], "emails": [], "slack": []
    }  # fmt: skip

    body = {
        "enabled": True,
        "recipients": {
            "owner": False,
            "roles": ["manager", "manager"],
            "users": [str(team.agents[0])],
            "emails": ["Team-Leads@Example.com"],
            "slack": ["http://127.0.0.1:9/hooks/team"],
        },
    }
    changed = await client.put("/v1/alerts/rules/deadline_near/urgent", json=body, headers=admin)
    assert changed.status_code == 200, changed.text
    recipients = changed.json()["recipients"]
    assert recipients["roles"] == ["manager"]
    assert recipients["emails"] == ["Team-Leads@example.com"]  # the domain normalised
    again = {
        (r["trigger"], r["urgency"]): r for r in (await client.get("/v1/alerts/rules", headers=admin)).json()
    }
    assert again[("deadline_near", "urgent")]["recipients"] == recipients

    agent = await make_key("agent", name="agent-key")
    assert (await client.get("/v1/alerts/rules", headers=agent)).status_code == 403
    assert (
        await client.put("/v1/alerts/rules/escalated/normal", json=body, headers=agent)
    ).status_code == 403
    assert (await client.get("/v1/alerts", headers=agent)).status_code == 403


async def test_unknown_people_bad_addresses_and_private_urls_are_refused(
    client: Client, admin: dict[str, str], settings: Settings
) -> None:
    def rule(**recipients: object) -> dict[str, object]:
        return {"enabled": True, "recipients": recipients}

    unknown = await client.put(
        "/v1/alerts/rules/escalated/normal",
        json=rule(users=["00000000-0000-4000-8000-000000000000"]),
        headers=admin,
    )
    assert unknown.status_code == 422
    assert "No console user has the id 00000000-0000-4000-8000-000000000000" in unknown.json()["detail"]
    bad_email = await client.put(
        "/v1/alerts/rules/escalated/normal", json=rule(emails=["not-an-address"]), headers=admin
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "recipients.emails"
    no_role = await client.put("/v1/alerts/rules/escalated/normal", json=rule(roles=["admin"]), headers=admin)
    assert no_role.status_code in (400, 422)
    unknown_trigger = await client.put("/v1/alerts/rules/birthday/normal", json=rule(), headers=admin)
    assert unknown_trigger.status_code in (400, 404, 422)

    # with private targets refused (the default), a loopback or metadata address cannot receive alerts
    guarded = create_app(msgspec.structs.replace(settings, webhooks_allow_private=False))
    async with AsyncTestClient(app=guarded) as strict:
        for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest"):
            refused = await strict.put(
                "/v1/alerts/rules/escalated/normal", json=rule(slack=[url]), headers=admin
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["field"] == "recipients.slack"


async def test_every_alert_is_listed_newest_first_with_its_task_link_and_a_hidden_webhook_path(
    client: Client,
    admin: dict[str, str],
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    team: Team,
) -> None:
    await conn.execute(
        "UPDATE alert_rules SET recipients = $1 WHERE trigger = 'escalated'",
        {"roles": ["manager"], "slack": ["https://hooks.example.com/services/T00/B00/very-secret"]},
    )
    task = await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()

    page = (await client.get("/v1/alerts?limit=1", headers=admin)).json()
    [newest] = page["items"]
    assert newest["recipient"] == "https://hooks.example.com/…"
    assert newest["channel"] == "slack"
    assert newest["task_url"] == f"{BASE_URL}/console/tasks/{task}"
    assert (newest["status"], newest["attempts"], newest["message_id"]) == ("pending", 0, None)
    older = (await client.get(f"/v1/alerts?before={page['next_before']}", headers=admin)).json()
    assert [a["recipient"] for a in older["items"]] == ["morgan@example.com"]
    assert older["next_before"] is None
    only_email = (await client.get("/v1/alerts?channel=email&trigger=escalated", headers=admin)).json()
    assert len(only_email["items"]) == 1
    assert (await client.get(f"/v1/alerts?task_id={task}&status=sent", headers=admin)).json()["items"] == []


async def test_metrics_count_alerts_due_and_failed(
    client: Client,
    make_key: KeyFactory,
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    team: Team,
) -> None:
    await insert_task(conn, await insert_customer(conn), deadline_at=hours_from_now(-1))
    await sweeper(pool, settings).sweep_once()
    await conn.execute("UPDATE alerts SET status = 'failed' WHERE id = (SELECT min(id) FROM alerts)")
    metrics = (await client.get("/metrics", headers=await make_key("metrics", name="prometheus"))).text
    assert "feedback_alerts_due 2.0" in metrics
    assert "feedback_alerts_failed 1.0" in metrics
