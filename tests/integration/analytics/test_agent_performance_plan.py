"""Agent performance reads a month of tasks through indexes, however long the history grows."""

from datetime import UTC, datetime, timedelta

import asyncpg

from feedback_svc.analytics import queries

SEQ_SCANS_NEVER = (
    "recovery_task_history",
    "recovery_evidence",
    "responses",
    "customer_events",
    "recovery_tasks",
)


async def _two_years_of_work(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """
        INSERT INTO customers (external_id, name, value)
        SELECT 'c' || n, 'Customer ' || n, 100 FROM generate_series(1, 2000) AS n;
        INSERT INTO responses (customer_id, survey_id, kind, score, channel, answered_at, editable_until)
        SELECT c.id, s.id, 'nps', (n % 11), 'email', now() - make_interval(days => n * 37 % 730),
               now() - make_interval(days => n * 37 % 730)
          FROM customers c CROSS JOIN generate_series(1, 5) AS n JOIN surveys s ON s.key = 'nps';
        INSERT INTO customer_events (customer_id, kind, occurred_at)
        SELECT c.id, CASE WHEN n = 1 THEN 'churned' ELSE 'purchase' END,
               now() - make_interval(days => n * 53 % 730)
          FROM customers c CROSS JOIN generate_series(1, 10) AS n;
        INSERT INTO recovery_tasks (customer_id, status, trigger, priority, deadline_at, first_contact_at,
                                    outcome, resolved_at, created_at)
        SELECT c.id, 'resolved', 'nps_detractor', 50, at + interval '1 day', at + interval '3 hours',
               'recovered', at + interval '2 days', at
          FROM customers c CROSS JOIN generate_series(1, 10) AS n
         CROSS JOIN LATERAL (
               SELECT now() - make_interval(days => (n * 71 + length(c.external_id) * 13) % 730) AS at) a;
        INSERT INTO recovery_task_history (task_id, actor, action, created_at)
        SELECT t.id, a.actor, a.action, t.resolved_at
          FROM recovery_tasks t
         CROSS JOIN (VALUES ('system', 'created'), ('agent-1', 'claimed'), ('agent-1', 'resolved'))
               AS a (actor, action);
        -- half the tasks opened by an answer of their own (an answer is evidence once per trigger)
        INSERT INTO recovery_evidence (task_id, trigger, response_id)
        SELECT t.id, 'nps_detractor', r.id
          FROM (SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id) AS k
                  FROM recovery_tasks) t
          JOIN (SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id) AS k
                  FROM responses) r
            ON r.customer_id = t.customer_id AND r.k = t.k;
        ANALYZE customers; ANALYZE responses; ANALYZE customer_events; ANALYZE recovery_tasks;
        ANALYZE recovery_task_history; ANALYZE recovery_evidence;
        """
    )


async def test_a_month_of_agent_numbers_is_read_through_indexes(conn: asyncpg.Connection) -> None:
    await _two_years_of_work(conn)
    end = datetime.now(UTC)
    start = end - timedelta(days=30)
    summary = "\n".join(
        row[0] for row in await conn.fetch("EXPLAIN " + queries._AGENT_SUMMARIES, start, end, "contractual")
    )
    drill = "\n".join(
        row[0]
        for row in await conn.fetch(
            "EXPLAIN " + queries._AGENT_TASKS,
            start,
            end,
            "non_contractual",
            "agent-1",
            "churn_90d",
            100,
            None,
            None,
        )
    )
    for plan in (summary, drill):
        assert "recovery_tasks_resolved_idx" in plan, plan
        for table in SEQ_SCANS_NEVER:
            assert f"Seq Scan on {table} " not in plan, plan
        assert "recovery_task_history_task_idx" in plan, plan
        assert "responses_customer_time_idx" in plan, plan
        assert "customer_events_customer_time_idx" in plan, plan
