"""Scoring runs: every active customer scored once, in ranges any number of processes share, and
the day's proactive tasks opened for the highest value at risk, at most the daily limit."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest

from feedback_svc.db.pool import create_pool
from feedback_svc.scoring import runs
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.cache import ScorerCache, baseline_bundle
from feedback_svc.scoring.scheduler import ScoringScheduler
from feedback_svc.settings import Settings
from ml.scorer import Scorer
from ml.simulator import populate
from tests.integration.recovery.conftest import drain
from tests.waiting import eventually

NOW = datetime.now(UTC)
CUSTOMERS = 250


@pytest.fixture
async def simulated(conn: asyncpg.Connection) -> list[uuid.UUID]:
    await populate(conn, customers=CUSTOMERS, seed=7, now=NOW)
    return [row["id"] for row in await conn.fetch("SELECT id FROM customers ORDER BY id")]


def scheduled(settings: Settings, **changes: Any) -> Settings:
    """Small ranges, so even 250 customers are many ranges; a low threshold, so many are at risk."""
    values = {"scoring_batch_size": 40, "proactive_tasks_per_day": 5, "at_risk_threshold": 0.05, **changes}
    return msgspec.structs.replace(settings, **values)


async def active_customers(conn: asyncpg.Connection) -> set[uuid.UUID]:
    """Not erased and not known to have churned (the latest churned/reactivated event)."""
    rows = await conn.fetch(
        """SELECT c.id FROM customers c
            WHERE c.erased_at IS NULL
              AND coalesce((SELECT e.kind FROM customer_events e
                             WHERE e.customer_id = c.id AND e.kind IN ('churned', 'reactivated')
                             ORDER BY e.occurred_at DESC LIMIT 1), 'reactivated') <> 'churned'"""
    )
    return {row["id"] for row in rows}


async def run_to_the_end(pool: asyncpg.Pool, settings: Settings, **start: Any) -> dict[str, Any]:
    scorers = ScorerCache(refresh_seconds=60)
    run, started = await runs.start_run(pool, scorers, settings, trigger="cli", requested_by="test", **start)
    assert started
    assert run is not None
    finished = await runs.work_on_run(pool, scorers, run, lanes=2)
    assert finished is not None
    return finished


async def test_a_run_scores_every_active_customer_once_and_queues_the_highest_value_at_risk(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, simulated: list[uuid.UUID]
) -> None:
    settings = scheduled(settings)
    await conn.execute(
        "UPDATE customers SET erased_at = now(), external_id = NULL WHERE id = ANY($1::uuid[])", simulated[:3]
    )
    active = await active_customers(conn)
    assert 0 < len(active) < CUSTOMERS - 3, "the simulation should have churned customers to skip"

    run = await run_to_the_end(pool, settings)

    assert run["status"] == "succeeded", run
    assert run["ranges"] == CUSTOMERS // 40 + 1
    scored = await conn.fetch("SELECT customer_id, count(*) AS n FROM scores GROUP BY customer_id")
    assert {row["customer_id"] for row in scored} == active
    assert all(row["n"] == 1 for row in scored)
    assert (run["customers_scored"], run["customers_skipped"]) == (len(active), CUSTOMERS - len(active))
    assert run["model_version"] == baseline_bundle().version
    assert run["at_risk_rule"]["kind"] == "churn_probability"

    at_risk = await conn.fetch(
        "SELECT id, customer_id, value_at_risk FROM scores WHERE churn_probability >= 0.05 "
        "ORDER BY value_at_risk DESC, churn_probability DESC, customer_id"
    )
    assert run["at_risk"] == len(at_risk) > 10
    assert (run["tasks_opened"], run["already_queued"]) == (5, 0)
    assert run["left_out"] == len(at_risk) - 5
    assert "5 proactive tasks opened" in run["message"]
    assert f"{len(at_risk) - 5} more at-risk customers left out by the daily limit" in run["message"]
    # the events of the queued ones only, in the run's transaction: the top five by value at risk
    events = await conn.fetch(
        "SELECT payload, dedupe_key FROM outbox WHERE payload->>'type' = 'customer.at_risk' ORDER BY id"
    )
    top = at_risk[:5]
    assert [e["payload"]["data"]["score_id"] for e in events] == [row["id"] for row in top]
    assert all(e["payload"]["data"]["run_id"] == str(run["id"]) for e in events)

    before = await conn.fetchval("SELECT count(*) FROM recovery_tasks")  # the simulation's own work
    await drain(pool, settings)
    tasks = await conn.fetch(
        "SELECT t.customer_id, t.trigger FROM recovery_tasks t JOIN recovery_evidence e ON e.task_id = t.id "
        "WHERE e.score_id IS NOT NULL"
    )
    assert {t["customer_id"] for t in tasks} == {row["customer_id"] for row in top}
    assert {t["trigger"] for t in tasks} == {"churn_risk"}
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == before + 5

    # the same day again: the limit is used up, and the queued customers are not queued twice
    again = await run_to_the_end(pool, settings)
    assert (again["tasks_opened"], again["already_queued"]) == (0, 5)
    assert "No proactive task opened: today's limit of 5 was reached already" in again["message"]
    assert again["left_out"] == again["at_risk"] - 5
    await drain(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM recovery_tasks") == before + 5
    assert await conn.fetchval("SELECT count(*) FROM scores") == 2 * len(active)


async def test_the_default_rule_is_the_model_cards_critical_band(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, simulated: list[uuid.UUID]
) -> None:
    settings = msgspec.structs.replace(settings, scoring_batch_size=100)
    run = await run_to_the_end(pool, settings)
    floor = Scorer(baseline_bundle()).band_floor("critical")
    assert run["at_risk_rule"]["kind"] == "risk_band"
    assert run["at_risk_rule"]["threshold"] == floor
    assert f"{floor:.4f}" in run["at_risk_rule"]["text"]
    critical = await conn.fetchval("SELECT count(*) FROM scores WHERE risk_band = 'critical'")
    assert critical == await conn.fetchval("SELECT count(*) FROM scores WHERE churn_probability >= $1", floor)
    assert run["at_risk"] == critical
    assert run["tasks_opened"] == min(critical, settings.proactive_tasks_per_day)

    # the expected-value rule instead: value x churn probability over an amount
    values = await conn.fetch("SELECT value_at_risk FROM scores ORDER BY value_at_risk DESC")
    amount = values[30]["value_at_risk"]
    policy = AtRiskPolicy.from_settings(msgspec.structs.replace(settings, proactive_min_value_at_risk=amount))
    assert policy.kind == "value_at_risk"
    assert AtRiskPolicy.from_rule(policy.rule(Scorer(baseline_bundle()))) == policy


async def test_a_crashed_process_gives_its_range_back_and_the_run_resumes(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    simulated: list[uuid.UUID],
) -> None:
    settings = scheduled(settings)
    scorers = ScorerCache(refresh_seconds=60)
    run, _ = await runs.start_run(pool, scorers, settings, trigger="cli", requested_by="test")
    assert run is not None
    # another process claims the third range and dies before it commits
    doomed = await asyncpg.connect(database_url)
    transaction = doomed.transaction()
    await transaction.start()
    await doomed.execute(
        "SELECT 1 FROM scoring_run_ranges WHERE run_id = $1 AND n = 2 FOR UPDATE SKIP LOCKED", run["id"]
    )
    assert await runs.work_on_run(pool, scorers, run) is None, "a range is held: the run cannot end yet"
    done = await conn.fetchval("SELECT count(*) FROM scoring_run_ranges WHERE status = 'done'")
    assert done == run["ranges"] - 1
    partial = await conn.fetchval("SELECT count(*) FROM scores")
    pid = doomed.get_server_pid()
    doomed.terminate()
    # the server ends the dead client's transaction when it notices
    await eventually(
        lambda: conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid),
        until=lambda backends: backends == 0,
        what="the server to end the dead client's backend",
    )

    finished = await runs.work_on_run(pool, scorers, run)
    assert finished is not None
    assert finished["status"] == "succeeded"
    active = await active_customers(conn)
    counts = await conn.fetch("SELECT customer_id, count(*) AS n FROM scores GROUP BY customer_id")
    assert {row["customer_id"] for row in counts} == active
    assert all(row["n"] == 1 for row in counts), "resumed, not restarted"
    assert 0 < partial < len(active)


async def test_processes_share_one_run_and_every_customer_is_scored_once(
    conn: asyncpg.Connection, settings: Settings, database_url: str, simulated: list[uuid.UUID]
) -> None:
    settings = scheduled(settings, scoring_batch_size=20)
    pools = [await create_pool(settings, database_url) for _ in range(3)]
    try:
        caches = [ScorerCache(refresh_seconds=60) for _ in pools]
        started = await asyncio.gather(
            *(
                runs.start_run(p, c, settings, trigger="schedule", requested_by="schedule", due_only=True)
                for p, c in zip(pools, caches, strict=True)
            )
        )
        assert sum(new for _, new in started) == 1
        assert len({run["id"] for run, _ in started if run is not None}) == 1
        run = started[0][0]
        assert run is not None
        ended = await asyncio.gather(
            *(runs.work_on_run(p, c, run, lanes=2) for p, c in zip(pools, caches, strict=True))
        )
    finally:
        for p in pools:
            await p.close()
    assert sum(end is not None for end in ended) == 1, "exactly one process ends the run"
    counts = await conn.fetch("SELECT customer_id, count(*) AS n FROM scores GROUP BY customer_id")
    assert {row["customer_id"] for row in counts} == await active_customers(conn)
    assert all(row["n"] == 1 for row in counts)
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE payload->>'type' = 'customer.at_risk'") == 5
    assert await conn.fetchval("SELECT count(*) FROM scoring_runs WHERE status = 'succeeded'") == 1


class FailingFor(Scorer):
    """The baseline, except for batches holding one customer: a bug that needs a person."""

    def __init__(self, poisoned: uuid.UUID) -> None:
        super().__init__(baseline_bundle())
        self.poisoned = poisoned

    def score(self, rows: Any) -> Any:
        if any(row["customer_id"] == self.poisoned for row in rows):
            raise ValueError("cannot score this one")
        return super().score(rows)


class FixedScorers(ScorerCache):
    def __init__(self, scorer: Scorer) -> None:
        super().__init__(refresh_seconds=60)
        self.fixed = scorer

    async def scorer(self, pool: Any) -> Scorer:
        return self.fixed

    async def scorer_for(self, pool: Any, version: str) -> Scorer:
        return self.fixed


async def test_a_range_that_keeps_failing_is_given_up_and_the_run_ends_failed(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, simulated: list[uuid.UUID]
) -> None:
    settings = scheduled(settings)
    poisoned = sorted(await active_customers(conn))[50]
    scorers = FixedScorers(FailingFor(poisoned))
    run, _ = await runs.start_run(pool, scorers, settings, trigger="api", requested_by="test")
    assert run is not None
    finished = await runs.work_on_run(pool, scorers, run)
    assert finished is not None
    assert finished["status"] == "failed"
    assert "1 of 7 ranges failed: ValueError: cannot score this one" in finished["error"]
    failed = await conn.fetchrow("SELECT * FROM scoring_run_ranges WHERE status = 'failed'")
    assert failed["attempts"] == runs.RANGE_ATTEMPTS
    assert await conn.fetchval("SELECT count(*) FROM scores WHERE customer_id = $1", poisoned) == 0
    lost = {
        c for c in await active_customers(conn) if (failed["after_id"] or c) <= c and c <= failed["last_id"]
    }
    lost.discard(failed["after_id"])
    assert poisoned in lost
    scored = await conn.fetchval("SELECT count(*) FROM scores")
    assert finished["customers_scored"] == scored == len(await active_customers(conn)) - len(lost)

    assert finished["tasks_opened"] == 5, "what was scored still reaches the queue"


async def test_the_schedule_starts_a_run_when_one_is_due_and_never_when_off(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, simulated: list[uuid.UUID]
) -> None:
    off = ScoringScheduler(pool, scheduled(settings, scoring_schedule_hours=0))
    assert await off.tick() is None
    assert await conn.fetchval("SELECT count(*) FROM scoring_runs") == 0

    daily = ScoringScheduler(pool, scheduled(settings, scoring_schedule_hours=24))
    run = await daily.tick()
    assert run is not None
    assert run["trigger"] == "schedule"
    assert run["status"] == "succeeded"
    assert await daily.tick() is None, "the next one is due in 24 hours"
    await conn.execute("UPDATE scoring_runs SET started_at = now() - interval '25 hours'")
    assert (await daily.tick()) is not None
    assert await conn.fetchval("SELECT count(*) FROM scoring_runs") == 2

    # a run asked for while the schedule is off is still worked on by the runner
    scorers = ScorerCache(refresh_seconds=60)
    asked, _ = await runs.start_run(pool, scorers, settings, trigger="api", requested_by="ops")
    assert asked is not None
    ended = await off.tick()
    assert ended is not None
    assert ended["id"] == asked["id"]

    stop = asyncio.Event()
    stop.set()
    await off.run(stop)  # returns at once when asked to stop


async def test_with_the_churn_risk_rule_off_a_run_scores_and_queues_nobody(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings, simulated: list[uuid.UUID]
) -> None:
    await conn.execute("UPDATE recovery_rules SET enabled = false WHERE trigger = 'churn_risk'")
    run = await run_to_the_end(pool, scheduled(settings))
    assert run["customers_scored"] == len(await active_customers(conn))
    assert run["at_risk"] > 0
    assert (run["tasks_opened"], run["left_out"], run["already_queued"]) == (0, 0, 0)
    assert "Proactive tasks are off" in run["message"]
    assert await conn.fetchval("SELECT count(*) FROM proactive_intake") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE payload->>'type' = 'customer.at_risk'") == 0
