"""Two server processes, many claimers, one database: nothing claimed twice, nothing lost."""

import asyncio
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import KeyFactory
from tests.faults.processes import servers
from tests.integration.recovery.conftest import insert_customer, insert_task

TASKS = 120
CLAIMERS = 12


async def test_many_claimers_on_two_servers_claim_each_task_once_and_an_abandoned_lease_returns(
    database_url: str, conn: asyncpg.Connection, make_key: KeyFactory, tmp_path: Path
) -> None:
    headers = await make_key("agent", name="floor")
    tasks = {
        await insert_task(conn, await insert_customer(conn), priority=float(k % 17)) for k in range(TASKS)
    }

    with servers(database_url, 2, log_dir=tmp_path) as bases:
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            # someone claims the most important task with a short lease, then walks away
            abandoned = (await http.post(f"{bases[0]}/v1/recovery/tasks/claim",
                                         json={"agent": "gone", "lease_seconds": 2})).json()  # fmt: skip
            resolved_by: list[str] = []

            async def claimer(n: int) -> None:
                base = bases[n % 2]
                give_up = time.monotonic() + 30  # a lost task shows up as a failed assertion, not a hang
                while len(resolved_by) < TASKS and time.monotonic() < give_up:
                    claimed = await http.post(f"{base}/v1/recovery/tasks/claim", json={"agent": f"a{n}"})
                    if claimed.status_code == 204:
                        await asyncio.sleep(0.2)  # an agent finding nothing looks again later: not a wait
                        continue
                    assert claimed.status_code == 200, claimed.text
                    task = claimed.json()
                    done = await http.post(
                        f"{bases[(n + 1) % 2]}/v1/recovery/tasks/{task['id']}/resolve",  # the other server
                        json={"lease_token": task["lease_token"], "outcome": "recovered",
                              "root_cause": "load", "agent": f"a{n}"},
                    )  # fmt: skip
                    assert done.status_code == 200, done.text
                    resolved_by.append(task["id"])

            await asyncio.gather(*(claimer(n) for n in range(CLAIMERS)))

            # the walker-away's token is stale now
            late = await http.post(
                f"{bases[1]}/v1/recovery/tasks/{abandoned['id']}/notes",
                json={"lease_token": abandoned["lease_token"], "text": "back"},
            )
            assert late.status_code == 409

    assert sorted(resolved_by) == sorted(str(t) for t in tasks), "every task resolved exactly once"
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks WHERE status = 'open'") == 0
    claims = Counter(
        str(row["task_id"])
        for row in await conn.fetch("SELECT task_id FROM recovery_task_history WHERE action = 'claimed'")
    )
    # one claim each, except the abandoned task: its lease ran out and someone else took it
    assert claims.pop(abandoned["id"]) == 2
    assert set(claims.values()) == {1}
    history = await conn.fetch(
        "SELECT task_id, array_agg(action ORDER BY id) AS actions FROM recovery_task_history GROUP BY task_id"
    )
    assert len(history) == TASKS
    for row in history:
        expected = ["claimed", "claimed", "resolved"] if str(row["task_id"]) == abandoned["id"] else [
            "claimed", "resolved"]  # fmt: skip
        assert row["actions"] == expected
