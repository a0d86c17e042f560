"""`feedback-svc demo` makes data that every endpoint and page accepts.

The demo runs (at a small size) into a fresh database; then every GET endpoint of the API
without a path parameter, the ones with a parameter the demo data can fill, and every console
page answer without a 5xx, and the queue is workable through both doors.
"""

import math
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feedback_svc.demo.service import Demo, run_demo
from feedback_svc.recovery.schemas import TRIGGERS
from feedback_svc.settings import Settings
from tests.conftest import KeyFactory
from tests.integration.users.console_helpers import log_in, page_token

Client = AsyncTestClient[Litestar]
CUSTOMERS = 500
SEED = 3


@pytest.fixture
async def demo(settings: Settings) -> Demo:
    return await run_demo(settings, customers=CUSTOMERS, seed=SEED)


def get_paths(app: Litestar) -> list[str]:
    """Every GET route; path parameters left in as {name:type}."""
    return sorted({route.path for route in app.routes if "GET" in getattr(route, "methods", ())})


async def test_the_demo_makes_work_that_every_endpoint_and_page_accepts(
    demo: Demo, app: Litestar, client: Client, conn: asyncpg.Connection, make_key: KeyFactory
) -> None:
    # one demo run (about 15 s) checked four ways
    await every_get_answers(demo, app, client, conn, await make_key("admin", "metrics", name="checker"))
    await tasks_are_real_work_for_real_people(demo, conn)
    await no_model_was_forced_in(demo, conn)
    await the_queue_is_workable(demo, client)


async def every_get_answers(
    demo: Demo, app: Litestar, client: Client, conn: asyncpg.Connection, admin: dict[str, str]
) -> None:
    tasks = await conn.fetch(
        """(SELECT id FROM recovery_tasks WHERE status = 'open' ORDER BY priority DESC LIMIT 5)
           UNION ALL (SELECT id FROM recovery_tasks WHERE assignee IS NOT NULL LIMIT 3)
           UNION ALL (SELECT id FROM recovery_tasks WHERE status = 'resolved' LIMIT 3)"""
    )
    assert tasks, "the demo opened no recovery task"
    fill = {
        "customer_id:uuid": [demo.riskiest],
        "task_id:uuid": [str(task["id"]) for task in tasks],
        "version:str": [demo.trained.bundle.version],
    }
    queries = {
        "/v1/recovery/tasks": ["", "?status=open", "?status=resolved", "?overdue=true", "?limit=200"],
        "/v1/analytics/scores": [f"?kind={k}&by={b}&period=month" for k in ("nps", "csat", "ces")
                                 for b in ("none", "touchpoint", "channel", "segment", "agent")],
        "/v1/analytics/response-rates": ["?by=touchpoint&period=week"],
        "/console/queue": ["", "?owner=me", "?owner=nobody", "?trigger=nps_detractor"],
        "/console/analytics": ["", "?kind=csat", "?kind=ces"],
    }  # fmt: skip
    manager = next(person for person in demo.people if person.role == "manager")
    agent = next(person for person in demo.people if person.role == "agent")
    queries["/console/agents/tasks"] = [f"?agent={agent.email}&metric={m}" for m in ("tasks", "recovered")]
    assert (await log_in(client, manager.email, demo.password)).status_code == 303

    checked, failures = 0, []
    for template in get_paths(app):
        if template.startswith(("/schema", "/static", "/console/static", "/s/", "/u/")):
            continue  # documentation, files, and the customers' token pages
        urls = [template]
        for name, values in fill.items():
            if "{" + name + "}" in template:
                urls = [url.replace("{" + name + "}", value) for url in urls for value in values]
        if any("{" in url for url in urls):
            continue  # no demo data names these (webhook endpoints, training runs)
        for url in urls:
            for query in queries.get(template, [""]):
                response = await client.get(url + query, headers=admin, follow_redirects=False)
                checked += 1
                signed_in_page = url.startswith("/console") and not url.startswith("/console/log")
                if response.status_code >= 500 or (signed_in_page and response.status_code != 200):
                    failures.append(f"{url}{query}: {response.status_code} {response.text[:200]}")
    assert not failures, failures
    assert checked > 60


async def tasks_are_real_work_for_real_people(demo: Demo, conn: asyncpg.Connection) -> None:
    tasks = [dict(row) for row in await conn.fetch("SELECT * FROM recovery_tasks")]
    assert {task["trigger"] for task in tasks} <= set(TRIGGERS)
    people = {person.email for person in demo.people}
    assignees = {task["assignee"] for task in tasks if task["assignee"]}
    assert assignees, "some open tasks should be assigned, so assignment can be seen"
    assert assignees <= people
    # every priority is the sum of the reasons the service gives for it
    for task in tasks:
        reasons = msgspec.convert(task["priority_reasons"], list[dict[str, Any]])
        assert reasons, task
        assert math.isclose(sum(r["points"] for r in reasons), task["priority"], abs_tol=0.11), task
    # open tasks were ranked again with the customers' real scores
    sources = [
        reason["text"]
        for task in tasks
        if task["status"] == "open"
        for reason in task["priority_reasons"]
        if reason["factor"] == "value_at_risk"
    ]
    assert sources
    assert all("model" in text for text in sources), sources[:3]
    assert not any(task["priority"] > 200 for task in tasks)


async def the_queue_is_workable(demo: Demo, client: Client) -> None:
    """Through the API as the demo agent's key, and in the console as another demo agent."""
    claimed = await client.post(
        "/v1/recovery/tasks/claim", json={}, headers={"Authorization": f"Bearer {demo.agent_key}"}
    )
    assert claimed.status_code == 200, claimed.text
    agent = next(
        person for person in demo.people if person.role == "agent" and person.email != "alex.demo@example.com"
    )
    client.cookies.clear()  # the manager's session
    assert (await log_in(client, agent.email, demo.password)).status_code == 303
    token = await page_token(client, "/console/queue")
    opened = await client.post("/console/queue/claim", data={"csrf_token": token}, follow_redirects=False)
    assert opened.headers["location"].startswith("/console/tasks/"), opened.headers["location"]
    page = await client.get(opened.headers["location"])
    assert page.status_code == 200


async def no_model_was_forced_in(demo: Demo, conn: asyncpg.Connection) -> None:
    activation = demo.trained.activation
    if activation is not None:
        assert not activation.forced
        assert activation.comparison is not None
        assert activation.comparison.candidate_wins
    assert not await conn.fetchval("SELECT coalesce(bool_or(forced), false) FROM model_activations")
