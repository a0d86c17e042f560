"""Simulate, train from the database, and hold the model against the simulator's truth."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import numpy as np
import pytest
import pytest_asyncio

from ml import persistence
from ml.evaluation import check_against_oracle, compare_models
from ml.queries import _QUERIES, FEATURE_PLANNING, fetch_features, fetch_population
from ml.scorer import Scorer
from ml.simulator import GroundTruth, populate
from ml.training import InsufficientDataError, TrainingConfig, TrainingResult, train
from tests.integration.ml.conftest import scratch_database

pytestmark = pytest.mark.asyncio(loop_scope="module")
NOW = datetime(2026, 11, 23, tzinfo=UTC)
CUSTOMERS = 4000


@dataclass(frozen=True)
class World:
    url: str
    truth: GroundTruth
    result: TrainingResult


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(database_admin_url: str) -> AsyncIterator[World]:
    async with scratch_database(database_admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            truth = await populate(conn, customers=CUSTOMERS, seed=11, now=NOW)
            await conn.execute("ANALYZE")
            result = await train(conn, now=NOW)
        finally:
            await conn.close()
        yield World(url=url, truth=truth, result=result)


async def test_the_model_nearly_reaches_the_oracle(world: World) -> None:
    holdout = world.result.holdout
    assert holdout.cutoff == world.truth.holdout_cutoff
    ids = [row["customer_id"] for row in holdout.rows]
    # as the card's figures: the served model learnt from this window too
    predicted = Scorer(world.result.bundle.evaluated()).churn_probability(holdout.rows)
    check = check_against_oracle(
        churned=dict(zip(ids, holdout.churned.tolist(), strict=True)),
        predicted=dict(zip(ids, predicted.tolist(), strict=True)),
        truth=world.truth.churn_probability,
    )
    print(f"\n{check.describe()}")
    assert check.oracle.rows == len(world.truth.churn_probability) == len(ids)
    assert 0.72 <= check.oracle.roc_auc <= 0.9, "the simulator should be neither trivial nor noise"
    assert check.passed, check.describe()


async def test_the_population_is_who_the_simulator_had_alive(world: World) -> None:
    conn = await asyncpg.connect(world.url)
    try:
        population = await fetch_population(conn, as_of=world.truth.holdout_cutoff)
    finally:
        await conn.close()
    assert set(population) == set(world.truth.churn_probability)
    churn_rate = np.mean(world.result.holdout.churned)
    assert 0.05 < churn_rate < 0.2
    assert np.mean(list(world.truth.churn_probability.values())) == pytest.approx(churn_rate, abs=0.03)


async def test_the_crm_signals_are_learned_without_code_changes(world: World) -> None:
    names = {feature.name for feature in world.result.bundle.card.features}
    assert {"attr:support_tickets_open", "attr:plan=basic", "attr:seats", "attr:newsletter"} <= names
    assert not [
        name for name in names if name.startswith(("attr:tags", "attr:signed_up_at", "attr:region=x"))
    ]


async def test_serving_scores_fresh_rows_from_the_database(world: World) -> None:
    bundle = persistence.loads(persistence.dumps(world.result.bundle))
    conn = await asyncpg.connect(world.url)
    try:
        ids = (await fetch_population(conn, as_of=NOW))[:200]
        rows = await fetch_features(conn, as_of=NOW, customer_ids=ids)
    finally:
        await conn.close()
    scores = Scorer(bundle).score(rows)
    np.testing.assert_allclose(
        [s.churn_probability for s in scores], bundle.predict_churn(rows), rtol=0, atol=1e-9
    )
    assert {s.customer_id for s in scores} == set(ids)
    assert all(len(s.reasons) == 3 and s.model_version == bundle.version for s in scores)


async def test_a_model_compared_with_itself_does_not_win(world: World) -> None:
    holdout = world.result.holdout
    comparison = compare_models(world.result.bundle, world.result.bundle, holdout.rows, holdout.churned)
    assert not comparison.candidate_wins
    assert comparison.candidate == comparison.active


async def test_serving_query_uses_the_indexes(world: World) -> None:
    conn = await asyncpg.connect(world.url)
    try:
        ids = (await fetch_population(conn, as_of=NOW))[:1000]
        # what a long-lived pool runs after a few calls: the generic plan
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {_QUERIES['select_features']}", NOW, ids))
    finally:
        await conn.close()
    for table in ("responses", "interactions", "invitations", "customer_events", "recovery_tasks"):
        assert f"Seq Scan on {table}" not in plan, plan


async def test_serving_plan_reads_each_customer_through_plain_index_scans(world: World) -> None:
    # as the scoring sessions plan it: a bitmap and a sort set up again for every customer's
    # few answers and invitations cost a quarter of the query (ml/queries.py FEATURE_PLANNING)
    conn = await asyncpg.connect(world.url, server_settings=FEATURE_PLANNING)
    try:
        ids = (await fetch_population(conn, as_of=NOW))[:1000]
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {_QUERIES['select_features']}", NOW, ids))
    finally:
        await conn.close()
    assert "Bitmap Heap Scan" not in plan, plan
    assert "Index Scan using responses_customer_time_idx on responses" in plan, plan
    assert "Index Scan using invitations_customer_time_idx on invitations" in plan, plan


async def test_too_few_labels_stop_training_with_the_reason(database_admin_url: str) -> None:
    async with scratch_database(database_admin_url) as url:
        conn = await asyncpg.connect(url)
        try:
            await populate(conn, customers=60, seed=3, now=NOW)
            with pytest.raises(
                InsufficientDataError, match=r"need at least 50 churned and 50 retained customers"
            ):
                await train(conn, now=NOW, config=TrainingConfig())
        finally:
            await conn.close()
