"""Scaling out: two servers and two workers on one database, under load; nothing lost or done twice.

Interactions are recorded through both servers (each queues an email invitation), every
invitation is answered through both servers, some requests are sent twice with the same
Idempotency-Key (a few at once on the two servers), and the two workers share the outbox:
emails to a real SMTP server, webhooks to a real receiver, detractors into the recovery queue.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from standardwebhooks import Webhook

from feedback_svc.webhooks.schemas import EVENT_TYPES
from tests.faults.load import Outcomes, api_headers, create_customers, fetch, post_until_acknowledged
from tests.faults.processes import Children
from tests.integration.delivery.email.conftest import Inbox
from tests.integration.webhooks.receiver import running_receiver
from tests.listening import SmtpController
from tests.waiting import eventually

CUSTOMERS = 80
CONCURRENCY = 8
# four processes on two cores: a webhook that timed out once waits out its backoff before the retry
DRAIN_TIMEOUT = 150.0


def _score(n: int) -> tuple[int, bool]:
    """(score, contact requested) for the n-th customer: a third detractors, a few asking for contact."""
    return (n % 7 if n % 3 == 0 else 9 + n % 2), n % 10 == 1


async def _post(
    http: httpx.AsyncClient, bases: list[str], n: int, path: str, body: dict[str, object], outcomes: Outcomes
) -> dict[str, object]:
    """Send once, or (every 5th) again after it succeeded, or (every 7th) at once to both servers."""
    key = str(uuid.uuid4())
    order = bases if n % 2 else bases[::-1]
    if n % 7 == 0:
        both = await asyncio.gather(
            *(post_until_acknowledged(http, [base, *order], path, body, outcomes, key=key) for base in order)
        )
        answers = [response.json() for response in both]
        assert answers[0] == answers[1], "two answers for one Idempotency-Key"
        return answers[0]
    first = (await post_until_acknowledged(http, order, path, body, outcomes, key=key)).json()
    if n % 5 == 0:
        again = await post_until_acknowledged(http, order[::-1], path, body, outcomes, key=key)
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == first
    return first


async def _still_pending(database_url: str) -> list[asyncpg.Record]:
    # each invitation's reminder waits its three days (and will find the answer then)
    return await fetch(
        database_url,
        "SELECT 'outbox' AS what, topic, attempts, last_error FROM outbox "
        " WHERE status = 'pending' AND topic <> 'invitation.remind' "
        "UNION ALL SELECT 'webhook', event_type, attempts, last_error FROM webhook_deliveries "
        " WHERE status = 'pending'",
    )


async def _drained(database_url: str) -> bool:
    return not await _still_pending(database_url)


async def _wait(what: str, condition: Callable[[], Awaitable[bool]], timeout: float = DRAIN_TIMEOUT) -> None:
    await eventually(condition, what=what, timeout=timeout, interval=0.3)


async def test_two_servers_and_two_workers_lose_nothing_and_do_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    inbox = Inbox()
    smtp = SmtpController(inbox)  # port 0: smtp.port is the one it bound
    smtp.start()
    try:
        with running_receiver() as receiver, Children(tmp_path / "logs") as children:
            env = {
                "FEEDBACK_SMTP_HOST": "127.0.0.1",
                "FEEDBACK_SMTP_PORT": str(smtp.port),
                "FEEDBACK_SMTP_SECURITY": "none",
                "FEEDBACK_MAIL_FROM": "surveys@acme.example",
                "FEEDBACK_WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver listens on 127.0.0.1
            }
            # four processes importing at once: start them all before waiting for any
            servers = [children.server(database_url, env=env, wait=False) for _ in range(2)]
            workers = [
                children.worker(database_url, env={**env, "FEEDBACK_LOG_LEVEL": "INFO"}) for _ in range(2)
            ]
            crm = await api_headers(database_url, "crm")
            admin = await api_headers(database_url, "admin", name="admin")
            for server in servers:
                server.wait_ready()
            for worker in workers:  # both take part from the first job on
                worker.wait_for_output("outbox worker started")
            bases = [server.base_url for server in servers]
            outcomes = Outcomes()
            limit = asyncio.Semaphore(CONCURRENCY)

            async with httpx.AsyncClient(timeout=15) as http:
                endpoint = await http.post(
                    f"{bases[0]}/v1/webhook-endpoints",
                    json={"url": receiver.url, "event_types": list(EVENT_TYPES)},
                    headers=admin,
                )
                assert endpoint.status_code == 201, endpoint.text
                secret = endpoint.json()["secret"]
                http.headers.update(crm)
                customers = await create_customers(http, bases[1], CUSTOMERS, f"scale-{uuid.uuid4().hex[:6]}")

                async def record(n: int) -> str:
                    async with limit:
                        recorded = await _post(http, bases, n, "/v1/interactions", {
                            "customer_id": customers[n], "touchpoint": "relationship",
                            "occurred_at": datetime.now(UTC).isoformat(), "channel_preference": "email",
                        }, outcomes)  # fmt: skip
                    invitation = recorded["invitation"]
                    assert isinstance(invitation, dict)
                    assert (invitation["channel"], invitation["status"]) == ("email", "queued"), invitation
                    return str(invitation["id"])

                invitations = await asyncio.gather(*(record(n) for n in range(CUSTOMERS)))
                await _wait("every invitation's email", lambda: _sent(database_url))

                async def answer(n: int) -> str:
                    score, contact = _score(n)
                    async with limit:
                        answered = await _post(http, bases, n, "/v1/responses", {
                            "invitation_id": invitations[n], "score": score, "contact_requested": contact,
                        }, outcomes)  # fmt: skip
                    return str(answered["id"])

                answers = await asyncio.gather(*(answer(n) for n in range(CUSTOMERS)))
                try:
                    await _wait(
                        "the outbox and the webhook deliveries to drain", lambda: _drained(database_url)
                    )
                except AssertionError as late:
                    raise AssertionError(f"{late}: {(await _still_pending(database_url))[:10]}") from None

            for process in [*servers, *workers]:
                assert process.process.poll() is None, children.logs()
            received = list(receiver.received)
    finally:
        smtp.stop()

    # nothing refused but the odd "still in progress" while the same key ran on the other server
    assert outcomes.refusals == [], outcomes.refusals[:5]
    assert set(outcomes.statuses) <= {200, 201, 409}, outcomes.statuses
    assert not outcomes.transport_errors, outcomes.transport_errors

    # each invitation's email arrived exactly once
    message_ids = Counter(mail.message["Message-ID"] for mail in inbox.received)
    assert len(message_ids) == CUSTOMERS
    assert set(message_ids.values()) == {1}, [m for m, count in message_ids.items() if count > 1]
    assert sorted(rcpt for mail in inbox.received for rcpt in mail.rcpt_tos) == sorted(
        f"{c['external_id']}@example.com"
        for c in await fetch(database_url, "SELECT external_id FROM customers")
    )

    # each answer stored exactly once
    stored = await fetch(database_url, "SELECT id::text, invitation_id::text FROM responses")
    assert sorted(row["id"] for row in stored) == sorted(answers)
    assert sorted(row["invitation_id"] for row in stored) == sorted(invitations)

    # each webhook event delivered exactly once, signed
    webhook_ids = Counter(request.message_id for request in received)
    assert set(webhook_ids.values()) == {1}, [m for m, count in webhook_ids.items() if count > 1]
    payloads = [Webhook(secret).verify(request.body, request.headers) for request in received]
    created = sorted(p["data"]["id"] for p in payloads if p["type"] == "response.created")
    assert created == sorted(answers)
    deliveries = await fetch(database_url, "SELECT message_id, status FROM webhook_deliveries")
    assert sorted(row["message_id"] for row in deliveries) == sorted(webhook_ids)
    assert {row["status"] for row in deliveries} == {"succeeded"}

    # one recovery task per unhappy customer, announced once
    unhappy = sorted(customers[n] for n in range(CUSTOMERS) if _score(n)[0] <= 6 or _score(n)[1])
    tasks = await fetch(database_url, "SELECT id::text, customer_id::text FROM recovery_tasks")
    assert sorted(row["customer_id"] for row in tasks) == unhappy
    announced = sorted(p["data"]["id"] for p in payloads if p["type"] == "task.created")
    assert announced == sorted(row["id"] for row in tasks)

    # each invitation planned its one reminder once, in the transaction that recorded it sent
    reminders = await fetch(
        database_url,
        "SELECT r.invitation_id::text, r.status, count(o.id) AS jobs FROM invitation_reminders r "
        "LEFT JOIN outbox o ON o.dedupe_key = 'invitation.remind:' || r.invitation_id || ':' || r.number "
        "GROUP BY 1, 2",
    )
    assert sorted(row["invitation_id"] for row in reminders) == sorted(invitations)
    assert {(row["status"], row["jobs"]) for row in reminders} == {("scheduled", 1)}

    # no outbox job gave up
    assert await fetch(database_url, "SELECT id, topic, last_error FROM outbox WHERE status = 'dead'") == []


async def _sent(database_url: str) -> bool:
    [row] = await fetch(
        database_url,
        "SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) AS total FROM invitations",
    )
    return row["sent"] == row["total"] == CUSTOMERS
