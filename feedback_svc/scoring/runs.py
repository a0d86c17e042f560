"""Scoring runs: every active customer scored in id ranges, then the proactive intake decided.

A run is a `scoring_runs` row, started by the schedule (scheduler.py), POST /v1/scoring/runs or
`feedback-svc score-all`; one runs at a time, whichever process started it. Starting cuts the
customers into id ranges of FEEDBACK_SCORING_BATCH_SIZE (keyset over the primary key). Any
number of processes then take ranges: each range is locked (SKIP LOCKED) by the transaction that
reads its features, stores its scores and its at-risk candidates, and marks it done, so a range
is stored once or not at all; a process that dies gives its range back at once, and the run
resumes where it was. A range that fails three times is given up (the run ends `failed`, with
what the other ranges scored). The process that finds no range left ends the run: the proactive
intake ranks the run's at-risk customers by value at risk into the day's places
(recovery/intake.py) and writes the `customer.at_risk` events of the queued ones, in the
transaction that records the run's totals.

Every range of a run is scored with the model that was active when the run started, and flagged
with the at-risk rule it started with (both are on the run).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from feedback_svc.db.sql import load_queries
from feedback_svc.recovery import intake
from feedback_svc.scoring import queries as score_queries
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.service import run_scorer
from feedback_svc.settings import Settings
from ml.queries import fetch_features
from ml.scorer import Scorer

log = structlog.get_logger(__name__)

Q = load_queries(Path(__file__).with_name("runs.sql"))
Row = dict[str, Any]
RANGE_ATTEMPTS = 3
TRIGGERS = ("schedule", "api", "cli")


@dataclass(frozen=True, slots=True)
class RangeDone:
    scored: int = 0
    skipped: int = 0
    at_risk: int = 0
    failed: bool = False


async def running_run(conn: asyncpg.Connection | asyncpg.Pool) -> Row | None:
    record = await conn.fetchrow(Q["running_run"])
    return None if record is None else dict(record)


async def schedule_due(conn: asyncpg.Connection | asyncpg.Pool, *, hours: float) -> bool:
    """No run is running and none started within the last `hours`."""
    return bool(await conn.fetchval(Q["schedule_due"], timedelta(hours=hours)))


async def start_run(
    db: asyncpg.Pool | asyncpg.Connection,
    scorers: ScorerCache,
    settings: Settings,
    *,
    trigger: str,
    requested_by: str,
    due_only: bool = False,
) -> tuple[Row | None, bool]:
    """(the run, True when this call started it): a new run, or the one running already.
    `due_only` (the schedule): start only when none started within FEEDBACK_SCORING_SCHEDULE_HOURS;
    (None, False) when none is due and none runs. On a connection, in its transaction if any."""
    scorer = await scorers.scorer(db)
    asked: dict[str, Any] = {
        "model_version": scorer.version,
        "rule": AtRiskPolicy.from_settings(settings).rule(scorer),
        "trigger": trigger,
        "requested_by": requested_by,
        "due_only": due_only,
    }
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            found = await _start(conn, settings, **asked)
    else:
        found = await _start(db, settings, **asked)
    run, started = found
    if started and run is not None:
        log.info("scoring run started", run_id=str(run["id"]), trigger=trigger, ranges=run["ranges"])
    return found


async def _start(
    conn: asyncpg.Connection,
    settings: Settings,
    *,
    model_version: str,
    rule: dict[str, Any],
    trigger: str,
    requested_by: str,
    due_only: bool,
) -> tuple[Row | None, bool]:
    async with conn.transaction():
        await conn.execute(Q["lock_runs"])
        running = await running_run(conn)
        if running is not None:
            return running, False
        if due_only and not await conn.fetchval(
            Q["run_due"], timedelta(hours=settings.scoring_schedule_hours)
        ):
            return None, False
        record = await conn.fetchrow(
            Q["insert_run"],
            trigger,
            requested_by,
            model_version,
            rule,
            settings.proactive_tasks_per_day,
            settings.scoring_batch_size,
        )
        if record is None:  # cannot happen under the lock; the index says the same
            return await running_run(conn), False
        run = dict(record)
        edges: list[UUID | None] = [r["id"] for r in await conn.fetch(Q["range_edges"], run["batch_size"])]
        after, last = [None, *edges], [*edges, None]
        await conn.execute(Q["insert_ranges"], run["id"], list(range(len(after))), after, last)
        await conn.execute(Q["set_range_count"], run["id"], len(after))
        run["ranges"] = len(after)
    return run, True


async def score_range(
    conn: asyncpg.Connection, *, run_id: UUID, scorer: Scorer, policy: AtRiskPolicy, now: datetime
) -> RangeDone | None:
    """Take the next free range of the run and store its scores and candidates in one
    transaction; None when no range is free."""
    taken: int | None = None
    try:
        async with conn.transaction():
            claimed = await conn.fetchrow(Q["claim_range"], run_id)
            if claimed is None:
                return None
            taken = claimed["n"]
            customers = await conn.fetch(Q["range_customers"], claimed["after_id"], claimed["last_id"], now)
            active = [row["id"] for row in customers if row["active"]]
            features = await fetch_features(conn, as_of=now, customer_ids=active)
            rows = [row for row in features if not row["erased"]]
            done = RangeDone(skipped=len(customers) - len(rows))
            if rows:
                scores = await run_scorer(scorer, rows)
                ids = await score_queries.insert_scores(conn, scores, scored_at=now)
                flagged = [i for i, score in enumerate(scores) if policy.is_at_risk(score)]
                await intake.insert_candidates(
                    conn,
                    run_id=run_id,
                    score_ids=[ids[i] for i in flagged],
                    customer_ids=[scores[i].customer_id for i in flagged],  # type: ignore[misc]
                    churn=[scores[i].churn_probability for i in flagged],
                    value_at_risk=[scores[i].value_at_risk for i in flagged],
                )
                done = RangeDone(scored=len(scores), skipped=done.skipped, at_risk=len(flagged))
            await conn.execute(Q["finish_range"], run_id, taken, done.scored, done.skipped, done.at_risk)
            return done
    except Exception as error:
        if taken is None or conn.is_closed():
            raise
        described = f"{type(error).__name__}: {error}"[:2000]
        await conn.execute(Q["fail_range"], run_id, taken, described, RANGE_ATTEMPTS)
        log.warning("scoring range failed", run_id=str(run_id), range=taken, error=described)
        return RangeDone(failed=True)


async def finish_run(conn: asyncpg.Connection, run_id: UUID, *, now: datetime | None = None) -> Row | None:
    """End the run if no range is left to score: decide the proactive intake and record the
    totals, in one transaction. None while ranges are pending (or when another process ended it)."""
    async with conn.transaction():
        run = await conn.fetchrow(Q["lock_running_run"], run_id)
        if run is None:
            return None
        totals = await conn.fetchrow(Q["range_totals"], run_id)
        if totals["pending"]:
            return None
        decided = await intake.decide_run(
            conn, run_id=run_id, limit=run["daily_limit"], now=now or datetime.now(UTC)
        )
        failed = totals["failed"] > 0
        record = await conn.fetchrow(
            Q["finish_run"],
            run_id,
            "failed" if failed else "succeeded",
            totals["scored"],
            totals["skipped"],
            totals["at_risk"],
            decided.opened,
            decided.already_queued,
            decided.left_out,
            describe_run(dict(run), totals=dict(totals), decided=decided),
            f"{totals['failed']} of {run['ranges']} ranges failed: {totals['error']}" if failed else None,
        )
    finished = dict(record)
    log.info(
        "scoring run finished",
        run_id=str(run_id),
        status=finished["status"],
        scored=finished["customers_scored"],
        tasks_opened=finished["tasks_opened"],
        left_out=finished["left_out"],
    )
    return finished


async def work_on_run(
    pool: asyncpg.Pool,
    scorers: ScorerCache,
    run: Row,
    *,
    lanes: int = 1,
    stop: asyncio.Event | None = None,
    progress: Callable[[RangeDone], None] | None = None,
) -> Row | None:
    """Score ranges of `run` on `lanes` connections until none is free, then try to end it.
    The finished run, or None when it goes on elsewhere (or `stop` was set)."""
    scorer = await scorers.scorer_for(pool, run["model_version"])
    policy = AtRiskPolicy.from_rule(run["at_risk_rule"])

    async def lane() -> None:
        async with pool.acquire() as conn:
            pause = 0.5
            while stop is None or not stop.is_set():
                done = await score_range(conn, run_id=run["id"], scorer=scorer, policy=policy, now=_now())
                if done is None:
                    return
                if progress is not None:
                    progress(done)
                if done.failed:  # the database may be back in a moment: do not burn the attempts
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 10.0)

    await asyncio.gather(*(lane() for _ in range(lanes)))
    if stop is not None and stop.is_set():
        return None
    async with pool.acquire() as conn:
        return await finish_run(conn, run["id"])


async def list_runs(conn: asyncpg.Connection | asyncpg.Pool, *, limit: int) -> list[Row]:
    return [_with_progress(dict(r)) for r in await conn.fetch(Q["list_runs"], None, limit)]


async def get_run(conn: asyncpg.Connection | asyncpg.Pool, run_id: UUID) -> Row | None:
    record = await conn.fetchrow(Q["list_runs"], run_id, 1)
    return None if record is None else _with_progress(dict(record))


def describe_run(run: Row, *, totals: Row, decided: intake.RunIntake) -> str:
    """The run's outcome in one paragraph (stored as its message)."""
    scored = (
        f"Scored {totals['scored']:,} active customers with model {run['model_version']} "
        f"({totals['skipped']:,} skipped: erased or churned); {totals['at_risk']:,} at risk "
        f"({run['at_risk_rule']['text']})."
    )
    if not decided.enabled:
        return f"{scored} Proactive tasks are off (the churn_risk recovery rule is disabled): none opened."
    limit = run["daily_limit"]
    if decided.places == 0:
        queue = f" No proactive task opened: today's limit of {limit:,} was reached already"
    else:
        tasks = "task" if decided.opened == 1 else "tasks"
        queue = (
            f" {decided.opened:,} proactive {tasks} opened, the highest value at risk first "
            f"({decided.places:,} of today's {limit:,} places were left)"
        )
    left = f"; {decided.left_out:,} more at-risk customers left out by the daily limit"
    already = f"; {decided.already_queued:,} had an open task already" if decided.already_queued else ""
    return f"{scored}{queue}{left if decided.left_out else ''}{already}."


def _with_progress(row: Row) -> Row:
    """A running run's counts so far come from its ranges."""
    if row["status"] == "running":
        row["customers_scored"] = row.pop("scored") or 0
        row["customers_skipped"] = row.pop("skipped") or 0
        row["at_risk"] = row.pop("at_risk_so_far") or 0
    else:
        for key in ("scored", "skipped", "at_risk_so_far"):
            row.pop(key)
    return row


def _now() -> datetime:
    return datetime.now(UTC)
