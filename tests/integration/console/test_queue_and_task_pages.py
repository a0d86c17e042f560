"""The queue and task pages against a real PostgreSQL: order, filters, claim, story, actions, leases."""

import html
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.console.seed import COMMENT, insert_customer, insert_task, seed_story
from tests.integration.users.console_helpers import csrf_of, log_in, make_user, page_token

Client = AsyncTestClient[Litestar]
AGENT = "agent@example.com"


async def agent_client(client: Client, conn: asyncpg.Connection, *, role: str = "agent") -> str:
    email = AGENT if role == "agent" else "boss@example.com"
    await make_user(conn, email=email, role=role, name="Alex Agent" if role == "agent" else "Morgan Boss")
    assert (await log_in(client, email)).status_code == 303
    return email


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_queue_lists_open_work_in_priority_order_with_reasons_and_deadlines(
    client: Client, conn: asyncpg.Connection
) -> None:
    await agent_client(client, conn)
    low = await insert_customer(conn, name="Low Priority", segment="enterprise")
    high = await insert_customer(conn, name="High Priority")
    late = await insert_customer(conn, name="Late Larry")
    hidden = await insert_customer(conn, name="Control Carla")
    await insert_task(conn, low, priority=10, trigger="csat_low", touchpoint="support_call")
    await insert_task(conn, high, priority=80)
    await insert_task(conn, late, priority=50, deadline_at=datetime.now(UTC) - timedelta(hours=2, minutes=5))
    await insert_task(conn, hidden, priority=99, control=True)
    page = await client.get("/console/queue")
    assert page.status_code == 200
    text = text_of(page.text)
    assert text.index("High Priority") < text.index("Late Larry") < text.index("Low Priority")
    assert "Control Carla" not in text  # nobody may contact the control group
    assert "3 open tasks, 1 overdue" in text
    assert "due in 3 h 20 min" in text
    assert "Overdue overdue by 2 h 5 min" in text
    assert "NPS detractor (score 2): urgency 0.8" in text
    assert 'href="/console/queue"' in page.text
    assert 'aria-current="page"' in page.text

    only_csat = text_of((await client.get("/console/queue?trigger=csat_low")).text)
    assert "Low Priority" in only_csat
    assert "High Priority" not in only_csat
    only_enterprise = text_of((await client.get("/console/queue?segment=enterprise")).text)
    assert "Low Priority" in only_enterprise
    assert "Late Larry" not in only_enterprise
    by_touchpoint = text_of((await client.get("/console/queue?touchpoint=support_call")).text)
    assert "Low Priority" in by_touchpoint
    assert "High Priority" not in by_touchpoint
    mine = text_of((await client.get("/console/queue?owner=me")).text)
    assert "No open task matches these filters." in mine
    bad = await client.get("/console/queue?trigger=nonsense&cursor=%%%")
    assert bad.status_code == 422
    assert "is not a trigger" in text_of(bad.text)


async def test_claim_next_opens_the_story_and_the_agent_works_it_to_the_end(
    client: Client, conn: asyncpg.Connection
) -> None:
    email = await agent_client(client, conn)
    story = await seed_story(conn)
    token = await page_token(client, "/console/queue")
    claimed = await client.post("/console/queue/claim", data={"csrf_token": token}, follow_redirects=False)
    assert claimed.status_code == 303
    assert claimed.headers["location"] == f"/console/tasks/{story.task_id}?done=claimed"
    held = await conn.fetchrow(
        "SELECT lease_holder, lease_token FROM recovery_tasks WHERE id = $1", story.task_id
    )
    assert held["lease_holder"] == email
    assert held["lease_token"] is not None

    page = await client.get(claimed.headers["location"])
    assert page.status_code == 200
    assert html.escape(COMMENT, quote=False) in page.text.replace("&#34;", '"')
    assert "<script>alert(1)</script>" not in page.text
    text = text_of(page.text)
    for expected in (
        "You claimed this task",
        "70% churn risk",
        "Latest NPS answer = 2: raises the risk",
        "Parcel arrived crushed",
        "courier-7",
        "Recovered (damaged_parcel)",
        "Claimed · Alex Agent",
        "You are working on this task",
        "NPS detractor (score 2): urgency 0.8",
    ):
        assert expected in text, expected

    token = csrf_of(page.text)
    base = f"/console/tasks/{story.task_id}"
    note = await client.post(f"{base}/note", data={"csrf_token": token, "text": "Left a voicemail"})
    assert note.status_code == 200
    assert "Your note was added." in note.text
    contact = await client.post(
        f"{base}/contact",
        data={"csrf_token": token, "channel": "phone", "reached": "yes", "note": "Apologised"},
    )
    assert "The contact attempt was recorded." in contact.text
    resolved = await client.post(
        f"{base}/resolve",
        data={"csrf_token": token, "outcome": "recovered", "root_cause": "Late Delivery", "note": "Voucher"},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    assert resolved.headers["location"] == "/console/queue?done=resolved"
    row = await conn.fetchrow(
        "SELECT status, outcome, root_cause, first_contact_at, lease_token FROM recovery_tasks WHERE id = $1",
        story.task_id,
    )
    assert (row["status"], row["outcome"], row["root_cause"]) == ("resolved", "recovered", "late_delivery")
    assert row["first_contact_at"] is not None
    assert row["lease_token"] is None
    actions = [r["action"] for r in await conn.fetch(
        "SELECT action FROM recovery_task_history WHERE task_id = $1 ORDER BY id", story.task_id
    )]  # fmt: skip
    assert actions == ["claimed", "note", "contact_attempt", "resolved"]
    after = text_of((await client.get(base)).text)
    assert "Left a voicemail" in after
    assert "By phone, reached the customer. Apologised" in after
    assert "Recovered, root cause late_delivery. Voucher" in after


async def test_a_lapsed_lease_is_taken_back_but_someone_elses_is_respected(
    client: Client, conn: asyncpg.Connection
) -> None:
    await agent_client(client, conn)
    story = await seed_story(conn)
    token = await page_token(client, "/console/queue")
    await client.post("/console/queue/claim", data={"csrf_token": token})
    base = f"/console/tasks/{story.task_id}"
    # the agent read for longer than the lease: their note still lands
    await conn.execute("UPDATE recovery_tasks SET lease_expires_at = now() - interval '1 minute'")
    saved = await client.post(f"{base}/note", data={"csrf_token": token, "text": "Read everything first"})
    assert "Your note was added." in saved.text
    lease = await conn.fetchval("SELECT lease_expires_at FROM recovery_tasks WHERE id = $1", story.task_id)
    assert lease > datetime.now(UTC) + timedelta(minutes=10)
    # now a colleague holds it: refused, said why, and the text is kept in the form
    await make_user(conn, email="sam@example.com", name="Sam Colleague")
    await conn.execute(
        """UPDATE recovery_tasks SET lease_holder = 'sam@example.com', lease_token = gen_random_uuid(),
                  lease_expires_at = now() + interval '10 minutes'"""
    )
    refused = await client.post(f"{base}/note", data={"csrf_token": token, "text": "My careful words"})
    assert refused.status_code == 409
    text = text_of(refused.text)
    assert "Sam Colleague is working on this task" in text
    assert "Go to the queue" in text
    assert "My careful words" in refused.text
    notes = await conn.fetchval(
        "SELECT count(*) FROM recovery_task_history WHERE task_id = $1 AND action = 'note'", story.task_id
    )
    assert notes == 1


async def test_forms_are_checked_and_forged_posts_change_nothing(
    client: Client, conn: asyncpg.Connection
) -> None:
    await agent_client(client, conn)
    story = await seed_story(conn)
    token = await page_token(client, "/console/queue")
    base = f"/console/tasks/{story.task_id}"
    forged = await client.post("/console/queue/claim", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert "nothing was done" in forged.text
    assert await conn.fetchval("SELECT lease_holder FROM recovery_tasks WHERE id = $1", story.task_id) is None
    empty = await client.post(f"{base}/note", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 422
    assert "Write the note first." in empty.text
    bad = await client.post(
        f"{base}/resolve", data={"csrf_token": token, "outcome": "won", "root_cause": "!!", "note": "kept"}
    )
    assert bad.status_code == 422
    assert "Choose the outcome." in bad.text
    assert "short tag of letters" in bad.text
    assert "kept" in bad.text
    assert await conn.fetchval("SELECT status FROM recovery_tasks WHERE id = $1", story.task_id) == "open"
    contact = await client.post(f"{base}/contact", data={"csrf_token": token, "channel": "pigeon"})
    assert contact.status_code == 422
    assert "Say whether you reached the customer." in contact.text
    # agents may not reassign
    assign = await client.post(f"{base}/assign", data={"csrf_token": token, "assignee": AGENT})
    assert assign.status_code == 403
    missing = await client.get(f"/console/tasks/{UUID(int=1)}")
    assert missing.status_code == 404
    assert "No recovery task" in missing.text


async def test_a_manager_reassigns_and_claim_next_respects_assignments(
    client: Client, conn: asyncpg.Connection
) -> None:
    await make_user(conn, email=AGENT, name="Alex Agent")
    await agent_client(client, conn, role="manager")
    story = await seed_story(conn)
    token = await page_token(client, f"/console/tasks/{story.task_id}")
    moved = await client.post(
        f"/console/tasks/{story.task_id}/assign", data={"csrf_token": token, "assignee": AGENT}
    )
    assert moved.status_code == 200
    assert "The task was reassigned." in moved.text
    assert await conn.fetchval("SELECT assignee FROM recovery_tasks WHERE id = $1", story.task_id) == AGENT
    assert "Assigned · Morgan Boss" in text_of(moved.text)
    assert "to Alex Agent" in text_of(moved.text)
    # the only task is someone else's: nothing to claim for the manager
    empty = await client.post("/console/queue/claim", data={"csrf_token": token})
    assert "Nothing to claim" in empty.text
    unknown = await client.post(
        f"/console/tasks/{story.task_id}/assign", data={"csrf_token": token, "assignee": "x@example.com"}
    )
    assert unknown.status_code == 422
    assert "Choose an active console account" in unknown.text


async def test_the_task_page_says_when_a_score_has_no_loyalty(
    client: Client, conn: asyncpg.Connection
) -> None:
    """A model trained before enough NPS answers existed scores churn only."""
    await agent_client(client, conn)
    story = await seed_story(conn)
    await conn.execute(
        """UPDATE scores SET loyalty = NULL, loyalty_unavailable = 'too few NPS answers to learn loyalty from'
            WHERE customer_id = $1""",
        story.customer_id,
    )
    page = await client.get(f"/console/tasks/{story.task_id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "70% churn risk" in text
    assert "loyalty not available" in text


async def test_resolving_with_a_closing_message_that_cannot_go_keeps_what_was_typed(
    client: Client, conn: asyncpg.Connection
) -> None:
    """An SMS too long refuses the whole resolution, and says why; an opted-out channel is named."""
    await agent_client(client, conn)
    story = await seed_story(conn)
    await conn.execute(
        "INSERT INTO suppressions (channel, address, customer_id, reason) "
        "SELECT 'sms', phone, id, 'sms_stop' FROM customers WHERE id = $1",
        story.customer_id,
    )
    page = await client.get(f"/console/tasks/{story.task_id}")
    token = csrf_of(page.text)
    await client.post(f"/console/tasks/{story.task_id}/take", data={"csrf_token": token})
    form = text_of((await client.get(f"/console/tasks/{story.task_id}")).text)
    assert "Their usual channel: email" in form
    assert "SMS (opted out: not sent)" in form
    words = "x" * 500
    refused = await client.post(
        f"/console/tasks/{story.task_id}/resolve",
        data={"csrf_token": token, "outcome": "recovered", "root_cause": "late_delivery",
              "follow_up": "yes", "follow_up_channel": "email", "follow_up_text": words},
    )  # fmt: skip
    assert refused.status_code in (200, 303)  # an email takes 500 characters
    assert (
        await conn.fetchval(
            "SELECT follow_up_channel || ':' || follow_up_status FROM recovery_tasks WHERE id = $1",
            story.task_id,
        )
        == "email:queued"
    )

    second = await seed_story(conn, name="Erik Lund")
    await client.post(f"/console/tasks/{second.task_id}/take", data={"csrf_token": token})
    await conn.execute("DELETE FROM suppressions")
    too_long = await client.post(
        f"/console/tasks/{second.task_id}/resolve",
        data={"csrf_token": token, "outcome": "recovered", "root_cause": "late_delivery",
              "follow_up": "yes", "follow_up_channel": "sms", "follow_up_text": words},
    )  # fmt: skip
    assert too_long.status_code == 422
    text = text_of(too_long.text)
    assert "An SMS takes at most 480 characters" in text
    assert words in text  # still in the box
    assert await conn.fetchval("SELECT status FROM recovery_tasks WHERE id = $1", second.task_id) == "open"
