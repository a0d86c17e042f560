"""The score batcher against a real PostgreSQL: shared batches give each request its own answer."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from feedback_svc.db.pool import create_feature_pool
from feedback_svc.scoring import service
from feedback_svc.scoring.at_risk import AtRiskPolicy
from feedback_svc.scoring.batcher import ScoreBatcher
from feedback_svc.scoring.cache import ScorerCache
from feedback_svc.scoring.schemas import ScoreBatch, ScoreItem
from feedback_svc.settings import Settings
from ml.scorer import Scorer
from ml.simulator import populate

NOW = datetime.now(UTC)


@pytest.fixture
async def customers(conn: asyncpg.Connection) -> list[uuid.UUID]:
    await populate(conn, customers=120, seed=11, now=NOW)
    return [row["id"] for row in await conn.fetch("SELECT id FROM customers ORDER BY external_id")]


@pytest.fixture
async def feature_pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_feature_pool(settings, database_url)
    try:
        yield pool
    finally:
        await pool.close()


class CountingBatcher(ScoreBatcher):
    """Records how many customers each shared batch held."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[int] = []

    async def _run(self, slices: list) -> None:  # type: ignore[type-arg]
        self.batches.append(sum(len(part.items) for part in slices))
        await super()._run(slices)


def _probabilities(batch: ScoreBatch) -> list[float | None]:
    return [None if r.score is None else r.score.churn_probability for r in batch.results]


async def test_concurrent_requests_share_batches_and_each_gets_its_own_results_in_order(
    feature_pool: asyncpg.Pool, conn: asyncpg.Connection, customers: list[uuid.UUID]
) -> None:
    scorers = ScorerCache(refresh_seconds=60)
    batcher = CountingBatcher(
        feature_pool, scorers, at_risk=AtRiskPolicy(threshold=1.0), lanes=2, chunk_rows=50, clock=lambda: NOW
    )
    unknown = uuid.uuid4()
    singles = [[ScoreItem(customer_id=customer)] for customer in customers[:40]]
    # bigger than a chunk, with an unknown customer in the middle: split over both lanes
    big = [ScoreItem(customer_id=customer) for customer in customers[:60]]
    big.insert(30, ScoreItem(customer_id=unknown))
    try:
        answers = await asyncio.gather(*(batcher.score(items) for items in [*singles, big]))
    finally:
        await batcher.close()

    # the same numbers as scoring each request alone, in the request's own order
    expected = await service.score_batch(
        feature_pool, scorers, big, at_risk=AtRiskPolicy(threshold=1.0), now=NOW
    )
    *single_answers, big_answer = answers
    assert [r.customer_id for r in big_answer.results] == [item.customer_id for item in big]
    assert _probabilities(big_answer) == pytest.approx(_probabilities(expected))
    assert (big_answer.scored, big_answer.failed) == (60, 1)
    assert big_answer.results[30].status == "failed"
    assert big_answer.results[30].error is not None
    alone = {r.customer_id: r.score.churn_probability for r in expected.results if r.score is not None}
    for items, answer in zip(singles, single_answers, strict=True):
        assert [r.customer_id for r in answer.results] == [items[0].customer_id]
        assert answer.results[0].score is not None
        assert answer.results[0].score.churn_probability == pytest.approx(alone[items[0].customer_id])
    # 41 requests, 101 customers: fewer statements than requests, none above a chunk
    assert len(batcher.batches) < 41
    assert max(batcher.batches) <= 50
    assert sum(batcher.batches) == 101
    # every scored item was stored once, with the id the answer gave
    ids = [r.score.id for answer in answers for r in answer.results if r.score is not None]
    assert len(ids) == len(set(ids)) == 100
    stored = await conn.fetchval("SELECT count(*) FROM scores WHERE id = ANY($1::bigint[])", ids)
    assert stored == 100


class FailingOnce(ScorerCache):
    """The registry is unreachable for the first batch only."""

    def __init__(self) -> None:
        super().__init__(refresh_seconds=60)
        self.failed = False

    async def scorer(self, pool: asyncpg.Pool | asyncpg.Connection) -> Scorer:
        if not self.failed:
            self.failed = True
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return await super().scorer(pool)


async def test_a_failed_batch_fails_its_requests_and_the_next_ones_are_served(
    feature_pool: asyncpg.Pool, customers: list[uuid.UUID]
) -> None:
    batcher = ScoreBatcher(
        feature_pool, FailingOnce(), at_risk=AtRiskPolicy(threshold=1.0), lanes=1, chunk_rows=50
    )
    try:
        with pytest.raises(asyncpg.CannotConnectNowError):
            await batcher.score([ScoreItem(customer_id=customers[0])])
        answer = await batcher.score([ScoreItem(customer_id=customers[1])])
    finally:
        await batcher.close()
    assert answer.scored == 1


async def test_closing_fails_what_is_still_queued_instead_of_leaving_it_waiting(
    feature_pool: asyncpg.Pool, customers: list[uuid.UUID]
) -> None:
    batcher = ScoreBatcher(
        feature_pool,
        ScorerCache(refresh_seconds=60),
        at_risk=AtRiskPolicy(threshold=1.0),
        lanes=1,
        chunk_rows=1,
    )
    waiting = [
        asyncio.create_task(batcher.score([ScoreItem(customer_id=customer)])) for customer in customers[:5]
    ]
    # one turn of the loop, not a wait for time: each task runs up to its first await, so all
    # five are queued (the lane, created by the first, is scheduled after this test resumes)
    await asyncio.sleep(0)
    await batcher.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=10)
    assert all(isinstance(outcome, ScoreBatch | RuntimeError) for outcome in outcomes)
    assert any(isinstance(outcome, RuntimeError) for outcome in outcomes)
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.score([ScoreItem(customer_id=customers[0])])
