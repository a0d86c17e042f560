"""PostgreSQL restarted under load: refusals are clean 503s, the service recovers, no answer is lost.

The server runs against a PostgreSQL of the test's own (the shared one must never be
restarted), crashed with `pg_ctl restart -m immediate` and then stopped for a few
seconds and started again, while clients keep answering surveys.
"""

import asyncio
import time
import uuid
from pathlib import Path

import httpx

from tests.faults.load import (
    Outcomes,
    answer_on_the_page,
    answer_until_acknowledged,
    api_headers,
    create_customers,
    fetch,
    invite_on_the_web,
)
from tests.faults.processes import Children, PrivatePostgres, Server, private_postgres
from tests.waiting import eventually

CUSTOMERS = 20
WRITERS = 6
PAGE_WRITERS = 2
PAGE_ANSWERS = 20
OUTAGE_SECONDS = 3.0
RECOVERY_TIMEOUT = 30.0


def _server_env() -> dict[str, str]:
    return {
        # every request authenticates against the database, so the outage reaches that path too
        "FEEDBACK_API_KEY_CACHE_SECONDS": "0",
        # a request waits for a connection this long before it is refused with 503
        "FEEDBACK_DB_CONNECT_TIMEOUT": "2",
        "FEEDBACK_DB_POOL_MIN": "2",
        "FEEDBACK_DB_POOL_MAX": "4",
    }


async def _readiness(http: httpx.AsyncClient, server: Server) -> httpx.Response:
    # a readiness probe that hangs is as bad as a wrong one: the client gives it 10 s
    return await http.get(f"{server.base_url}/health/ready", timeout=10)


async def _wait_ready(http: httpx.AsyncClient, server: Server) -> None:
    await eventually(
        lambda: _readiness(http, server),
        until=lambda response: response.status_code == 200,
        what="the service to become ready again by itself",
        timeout=RECOVERY_TIMEOUT,
        interval=0.2,
    )


def _acknowledged(outcomes: Outcomes) -> int:
    return outcomes.statuses[200] + outcomes.statuses[201]


async def _under_load(outcomes: Outcomes, what: str) -> None:
    """Until the writers have had another answer each acknowledged: load is flowing (again)."""
    target = _acknowledged(outcomes) + WRITERS + PAGE_WRITERS

    async def acknowledged() -> int:
        return _acknowledged(outcomes)

    await eventually(acknowledged, until=lambda n: n >= target, what=what, timeout=RECOVERY_TIMEOUT)


async def _outage(
    pg: PrivatePostgres, http: httpx.AsyncClient, server: Server, outcomes: Outcomes
) -> list[httpx.Response]:
    """Crash-restart, then a stop of a few seconds; what readiness said while the database was down."""
    await _under_load(outcomes, "answers acknowledged before the crash")
    await asyncio.to_thread(pg.restart, "immediate")
    await _wait_ready(http, server)
    await _under_load(outcomes, "answers acknowledged after the crash-restart")

    await asyncio.to_thread(pg.stop, "fast")
    while_down = []
    until = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < until:
        while_down.append(await _readiness(http, server))
        await asyncio.sleep(0.3)  # readiness asked every 0.3 s through an outage of set length: not a wait
    await asyncio.to_thread(pg.start)
    await _wait_ready(http, server)
    await _under_load(outcomes, "answers acknowledged after the database came back")
    return while_down


async def test_a_database_restart_under_load_loses_no_acknowledged_answer_and_heals_by_itself(
    tmp_path: Path, server_folder: Path
) -> None:
    with private_postgres(server_folder / "pg") as pg:
        database_url = pg.create_database("feedback")
        crm = await api_headers(database_url, "crm")
        with Children(tmp_path / "logs") as children:
            server = children.server(database_url, env=_server_env(), wait=False)
            worker = children.worker(database_url, env=_server_env())
            server.wait_ready()
            outcomes = Outcomes()
            async with httpx.AsyncClient(headers=crm, timeout=15) as http:
                customers = await create_customers(http, server.base_url, CUSTOMERS, "restart")
                # web invitations for people answering on the page during the outage
                people = await create_customers(http, server.base_url, PAGE_ANSWERS, "restart-web")
                pages = await invite_on_the_web(http, server.base_url, people)
                answered_on_the_page: dict[str, int] = {}
                done = asyncio.Event()

                async def writer(n: int) -> None:
                    k = 0
                    while not done.is_set():
                        body = {"customer_id": customers[(n + k * WRITERS) % CUSTOMERS], "survey": "nps",
                                "score": k % 11, "comment": f"writer {n} answer {k}"}  # fmt: skip
                        await answer_until_acknowledged(http, [server.base_url], body, outcomes)
                        k += 1

                async def page_writer(n: int) -> None:
                    # round and round its own invitations: a second answer changes the first
                    mine = pages[n::PAGE_WRITERS]
                    k = 0
                    while not done.is_set():
                        invitation_id, path = mine[k % len(mine)]
                        score = k % 11
                        await answer_on_the_page(http, [server.base_url], path, score, outcomes)
                        answered_on_the_page[invitation_id] = score
                        k += 1

                writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
                writers += [asyncio.create_task(page_writer(n)) for n in range(PAGE_WRITERS)]
                try:
                    while_down = await _outage(pg, http, server, outcomes)
                finally:
                    done.set()
                    # each writer finishes the answer in hand; none may hang
                    await asyncio.wait_for(asyncio.gather(*writers), timeout=60)

                # a request now, after the outage, from the same process: it healed by itself
                after = await http.post(
                    f"{server.base_url}/v1/responses",
                    json={"customer_id": customers[0], "survey": "nps", "score": 10},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                assert after.status_code == 201, after.text
            assert server.process.poll() is None, children.logs()
            assert worker.process.poll() is None, children.logs()

            # readiness said "not ready" while the database was down, quickly and cleanly
            assert while_down, "readiness was never asked during the outage"
            assert {r.status_code for r in while_down} == {503}, [r.text for r in while_down]
            for refused in while_down:
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert "retry-after" in refused.headers

            # the writers saw the outage, and only as clean refusals
            assert outcomes.statuses[503] > 0, outcomes.statuses
            assert outcomes.refusals == [], outcomes.refusals[:5]
            assert not outcomes.transport_errors, outcomes.transport_errors
            assert set(outcomes.statuses) <= {200, 201, 409, 503}, outcomes.statuses

            # every acknowledged answer is there, once; nothing else was stored
            acknowledged = set(outcomes.acknowledged.values()) | {after.json()["id"]}
            assert len(acknowledged) == len(outcomes.acknowledged) + 1
            through_api = await fetch(
                database_url, "SELECT id::text AS id FROM responses WHERE channel = 'api'"
            )
            assert sorted(row["id"] for row in through_api) == sorted(acknowledged)
            on_the_page = await fetch(
                database_url,
                "SELECT invitation_id::text AS id, score FROM responses WHERE channel = 'web'",
            )
            assert {row["id"]: row["score"] for row in on_the_page} == answered_on_the_page

            # the worker recovered too: the answers' events were all processed, none buried

            async def drained() -> bool:
                dead = await fetch(database_url, "SELECT id, last_error FROM outbox WHERE status = 'dead'")
                assert not dead, dead
                return not await fetch(database_url, "SELECT 1 FROM outbox WHERE status <> 'done' LIMIT 1")

            await eventually(
                drained,
                what="the worker to drain the outbox after the restart",
                timeout=RECOVERY_TIMEOUT,
                interval=0.3,  # each look opens two connections
            )
