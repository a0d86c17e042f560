"""The alert claim and the hourly cap stay index lookups when sent alerts pile up."""

from datetime import timedelta

import asyncpg

from feedback_svc.alerts.queries import Q
from tests.integration.recovery.conftest import insert_customer, insert_task


async def test_the_claim_and_the_cap_read_indexes_not_the_whole_record(conn: asyncpg.Connection) -> None:
    task = await insert_task(conn, await insert_customer(conn))
    await conn.execute(
        """
        INSERT INTO alerts (task_id, trigger, urgency, occasion, channel, recipient, status, sent_at,
                            message_key)
        SELECT $1, 'escalated', 'normal', n::text, 'email', 'p' || (n % 300) || '@example.com',
               CASE WHEN n % 200 = 0 THEN 'pending' ELSE 'sent' END,
               CASE WHEN n % 200 = 0 THEN NULL ELSE now() - make_interval(mins => n % 5000) END, n
          FROM generate_series(1, 20000) AS n
        """,
        task,
    )
    await conn.execute("ANALYZE alerts")
    claim = "\n".join(
        r[0] for r in await conn.fetch("EXPLAIN " + Q["claim_alerts"], "r", 50, timedelta(minutes=5))
    )
    # only the pending alerts' partial indexes are read, never the sent ones
    assert "alerts_pending_recipient_idx" in claim or "alerts_due_idx" in claim, claim
    assert "Seq Scan on alerts" not in claim, claim
    cap = "\n".join(
        r[0]
        for r in await conn.fetch(
            "EXPLAIN " + Q["recent_messages"], "email", "p7@example.com", timedelta(hours=1)
        )
    )
    assert "alerts_recipient_sent_idx" in cap, cap
