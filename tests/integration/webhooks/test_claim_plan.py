"""The claim stays an index lookup when finished deliveries pile up."""

from datetime import timedelta

import asyncpg

from feedback_svc.webhooks.queries import Q


async def test_the_claim_reads_indexes_not_the_whole_history(conn: asyncpg.Connection) -> None:
    endpoint = await conn.fetchval(
        "INSERT INTO webhook_endpoints (url, secret, event_types) VALUES ('https://x.example', 's', '{}') "
        "RETURNING id"
    )
    await conn.execute(
        """
        INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, payload, ordering_key, event_id,
                                        status)
        SELECT $1, 'msg_' || n, 'task.created', '{}', 'c' || (n % 500), n,
               CASE WHEN n % 200 = 0 THEN 'pending' ELSE 'succeeded' END
          FROM generate_series(1, 20000) AS n
        """,
        endpoint,
    )
    await conn.execute("ANALYZE webhook_deliveries; ANALYZE outbox; ANALYZE webhook_endpoints")
    plan = "\n".join(
        row[0] for row in await conn.fetch("EXPLAIN " + Q["claim_deliveries"], "r", 20, timedelta(minutes=1))
    )
    assert "webhook_deliveries_due_idx" in plan, plan
    assert "Seq Scan on webhook_deliveries" not in plan, plan
