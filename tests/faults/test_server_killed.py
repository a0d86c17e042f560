"""`kill -9` of a server while answers pour in: nothing acknowledged is lost, retries are safe.

Two servers share the load; clients answer invitations through the API (with an
Idempotency-Key) and through the web form (an upsert by invitation), and move on to
the other server when one stops answering, as a load balancer would. One server is
killed with SIGKILL mid-load; its clients' retries land on the survivor.
"""

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from tests.faults.load import (
    GIVE_UP_AFTER,
    Outcomes,
    answer_on_the_page,
    answer_until_acknowledged,
    api_headers,
    create_customers,
    fetch,
    invite_on_the_web,
)
from tests.faults.processes import Children
from tests.waiting import eventually

INVITATIONS = 60
CLIENTS = 8
KILL_AFTER = 15  # acknowledged answers before the kill


@dataclass(frozen=True)
class Invited:
    id: str
    path: str  # /s/{token}
    score: int
    via: str  # "api" or "web"


async def test_a_server_killed_mid_load_loses_no_acknowledged_answer_and_retries_are_safe(
    database_url: str, tmp_path: Path
) -> None:
    with Children(tmp_path / "logs") as children:
        first, second = [children.server(database_url, wait=False) for _ in range(2)]
        crm = await api_headers(database_url, "crm")
        first.wait_ready()
        second.wait_ready()
        bases = [first.base_url, second.base_url]
        outcomes = Outcomes()
        acked_api: dict[str, str] = {}  # invitation id -> response id
        acked_web: set[str] = set()
        async with httpx.AsyncClient(headers=crm, timeout=15) as http:
            customers = await create_customers(http, bases[1], INVITATIONS, f"kill-{uuid.uuid4().hex[:6]}")
            invited = [
                Invited(invitation_id, path, n % 11, "api" if n % 2 else "web")
                for n, (invitation_id, path) in enumerate(await invite_on_the_web(http, bases[1], customers))
            ]
            # one API answer is kept back: the test makes sure the server is working on it when
            # it dies (a fast server may otherwise have answered everything the clients had sent)
            held = next(one for one in reversed(invited) if one.via == "api")
            queue: asyncio.Queue[Invited] = asyncio.Queue()
            for one in invited:
                if one is not held:
                    queue.put_nowait(one)

            async def client() -> None:
                while not queue.empty():
                    one = queue.get_nowait()
                    if one.via == "api":
                        body = {"invitation_id": one.id, "score": one.score}
                        acked_api[one.id] = await answer_until_acknowledged(
                            http, bases, body, outcomes, key=f"answer-{one.id}"
                        )
                    else:
                        await answer_on_the_page(http, bases, one.path, one.score, outcomes)
                        acked_web.add(one.id)

            clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
            try:

                async def acknowledged() -> int:
                    return len(acked_api) + len(acked_web)

                await eventually(
                    acknowledged,
                    until=lambda n: n >= KILL_AFTER,
                    what=f"{KILL_AFTER} acknowledged answers (the load under way)",
                    timeout=GIVE_UP_AFTER,
                    interval=0.01,  # kill soon after the threshold, with plenty still in flight
                )
                # the held answer's customer row is locked here, so the first server (where every
                # first attempt goes) is inside that answer, waiting, when it is killed
                blocker = await asyncpg.connect(database_url)
                try:
                    async with blocker.transaction():
                        await blocker.execute(
                            "SELECT 1 FROM customers c JOIN invitations i ON i.customer_id = c.id "
                            "WHERE i.id = $1 FOR UPDATE OF c",
                            uuid.UUID(held.id),
                        )
                        held_answer = asyncio.create_task(
                            answer_until_acknowledged(
                                http,
                                bases,
                                {"invitation_id": held.id, "score": held.score},
                                outcomes,
                                key=f"answer-{held.id}",
                            )
                        )

                        async def waiting_on_the_lock() -> int:
                            return await blocker.fetchval(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                            )

                        await eventually(
                            waiting_on_the_lock,
                            until=lambda n: n >= 1,
                            what="the held answer waiting for its customer's row on the first server",
                            timeout=GIVE_UP_AFTER,
                            interval=0.01,
                        )
                        first.kill()  # no shutdown: in-flight requests die with the process
                finally:
                    await blocker.close()
                # the killed server's statement may still commit once the lock is gone: then the
                # retry on the survivor replays it; else the retry runs it
                acked_api[held.id] = await asyncio.wait_for(held_answer, timeout=GIVE_UP_AFTER)
            finally:
                await asyncio.wait_for(asyncio.gather(*clients), timeout=GIVE_UP_AFTER + 15)
            # a client whose acknowledgement was lost sends the same answer again, with its key:
            # the survivor replays the first answer and runs nothing
            for invitation_id, answer_id in acked_api.items():
                again = await http.post(
                    f"{bases[1]}/v1/responses",
                    json={
                        "invitation_id": invitation_id,
                        "score": next(o.score for o in invited if o.id == invitation_id),
                    },
                    headers={"Idempotency-Key": f"answer-{invitation_id}"},
                )
                assert again.headers.get("idempotent-replayed") == "true", again.text
                assert again.json()["id"] == answer_id
        assert first.process.returncode == -9
        assert second.process.poll() is None, children.logs()

    # the kill happened mid-load: requests the server had taken died with it (not merely refused
    # connections afterwards), and were retried
    in_flight = {name: n for name, n in outcomes.transport_errors.items() if name != "ConnectError"}
    assert in_flight, (outcomes.statuses, outcomes.transport_errors)
    assert outcomes.refusals == [], outcomes.refusals[:5]

    # every answer acknowledged is stored, as acknowledged, and each invitation was answered once
    stored = await fetch(database_url, "SELECT id::text, invitation_id::text, score, channel FROM responses")
    by_invitation = {row["invitation_id"]: row for row in stored}
    assert len(stored) == len(by_invitation) == INVITATIONS, "an invitation answered twice"
    for one in invited:
        row = by_invitation[one.id]
        assert row["score"] == one.score
        if one.via == "api":
            assert (row["id"], row["channel"]) == (acked_api[one.id], "api")
        else:
            assert one.id in acked_web
            assert row["channel"] == "web"
    statuses = await fetch(database_url, "SELECT DISTINCT status FROM invitations")
    assert [row["status"] for row in statuses] == ["answered"]
    # one response.created event per answer: a retry that was replayed emitted nothing again
    events = await fetch(
        database_url,
        "SELECT payload->'data'->>'id' AS id FROM outbox "
        "WHERE topic = 'event' AND payload->>'type' = 'response.created'",
    )
    assert sorted(row["id"] for row in events) == sorted(row["id"] for row in stored)
    # an API answer retried with its Idempotency-Key was replayed, not run again: a second run
    # would have upserted the same response by invitation and emitted response.updated
    rerun = await fetch(
        database_url,
        "SELECT payload->'data'->>'invitation_id' AS invitation_id FROM outbox "
        "WHERE topic = 'event' AND payload->>'type' = 'response.updated'",
    )
    assert {row["invitation_id"] for row in rerun} & set(acked_api) == set()
