"""Training through the service: without NPS answers, with a run's own horizon and as-of date,
and never activating a model that is worse than the active one on the same holdout."""

from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.app import create_app
from feedback_svc.db.pool import connect, create_pool
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.scoring import queries
from feedback_svc.scoring.trainer import TOPIC, TrainingJob, train_and_register
from feedback_svc.settings import Settings
from ml import persistence
from ml.simulator import populate
from tests.db import TemplateDatabase, with_database

NOW = datetime.now(UTC)


async def _world(template_database: TemplateDatabase, *, seed: int) -> tuple[str, Settings]:
    name = await template_database.copy()
    url = with_database(template_database.admin_url, name)
    conn = await connect(url)
    try:
        await populate(conn, customers=1500, seed=seed, now=NOW)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    settings = Settings(
        database_url=url, secret_key="test-secret-" + "x" * 32, api_key_cache_seconds=0, run_workers=False
    )
    return name, settings


async def test_churn_trains_without_nps_answers_and_scores_say_why_loyalty_is_missing(
    template_database: TemplateDatabase,
) -> None:
    name, settings = await _world(template_database, seed=31)
    pool = await create_pool(settings, settings.database_url or "")
    try:
        # the day a CRM switches the service on: nobody has answered an NPS survey yet
        await pool.execute("DELETE FROM responses WHERE kind = 'nps'")
        trained = await train_and_register(pool, now=NOW, activate=True, force=True, actor="test")
        card = trained.bundle.card
        assert trained.bundle.loyalty is None
        assert card.loyalty is None
        assert card.loyalty_unavailable.startswith("too few NPS answers to learn loyalty from")
        assert card.churn.holdout.roc_auc > 0.7
        async with pool.acquire() as conn:
            key = await create_api_key(conn, name="crm", scopes=["crm"])
            customers = [r["id"] for r in await conn.fetch("SELECT id FROM customers LIMIT 20")]
        crm = {"Authorization": f"Bearer {key.key}"}
        async with AsyncTestClient(app=create_app(settings)) as client:
            response = await client.post(
                "/v1/scores", json={"items": [{"customer_id": str(i)} for i in customers]}, headers=crm
            )
            assert response.status_code == 200, response.text
            for result in response.json()["results"]:
                score = result["score"]
                assert score["model_version"] == card.version
                assert (score["loyalty_probability"], score["loyalty_index"]) == (None, None)
                assert score["loyalty_unavailable"] == card.loyalty_unavailable
                assert 0 < score["churn_probability"] < 1
            one = (await client.get(f"/v1/customers/{customers[0]}/score", headers=crm)).json()
            assert one["loyalty_unavailable"] == card.loyalty_unavailable
        stored = await pool.fetch("SELECT loyalty, loyalty_index, loyalty_unavailable FROM scores")
        assert len(stored) == len(customers)
        assert all(row["loyalty"] is None and row["loyalty_index"] is None for row in stored)
        assert {row["loyalty_unavailable"] for row in stored} == {card.loyalty_unavailable}
    finally:
        await pool.close()
        await template_database.drop_copy(name)


async def test_a_training_run_takes_its_horizon_and_as_of_date_and_the_card_its_exact_edges(
    template_database: TemplateDatabase,
) -> None:
    name, settings = await _world(template_database, seed=32)
    as_of = NOW - timedelta(days=20)
    pool = await create_pool(settings, settings.database_url or "")
    try:
        async with pool.acquire() as conn:
            key = await create_api_key(conn, name="ops", scopes=["admin"])
        admin = {"Authorization": f"Bearer {key.key}"}
        async with AsyncTestClient(app=create_app(settings)) as client:
            asked = await client.post(
                "/v1/models/training-runs",
                json={"horizon_days": 60, "as_of": as_of.isoformat()},
                headers=admin,
            )
            assert asked.status_code == 202, asked.text
            assert asked.json()["horizon_days"] == 60
            assert datetime.fromisoformat(asked.json()["as_of"]) == as_of
            refused = await client.post(
                "/v1/models/training-runs",
                json={"as_of": (NOW + timedelta(days=1)).isoformat()},
                headers=admin,
            )
            assert refused.status_code == 422
            assert "in the future" in refused.json()["detail"]
            worker = OutboxWorker(pool, {TOPIC: TrainingJob(pool, settings=settings)})
            assert await worker.run_once() == 1
            run = (await client.get(asked.headers["location"], headers=admin)).json()
            assert run["status"] == "succeeded", run
            assert run["labels"] == "contractual"
            detail = (await client.get(f"/v1/models/{run['model_version']}", headers=admin)).json()
        data = detail["card"]["data"]
        assert data["horizon_days"] == 60
        assert data["labels"] == "contractual"
        assert datetime.fromisoformat(data["holdout_cutoff"]) == as_of - timedelta(days=60)
        # the stored card (jsonb) has the band edges the model serves by, to the last bit
        artifact = await queries.model_artifact(pool, run["model_version"])
        assert artifact is not None
        bundle = persistence.loads(artifact)
        assert [b["min_probability"] for b in detail["card"]["risk_bands"]] == [
            b.min_probability for b in bundle.card.risk_bands
        ]
    finally:
        await pool.close()
        await template_database.drop_copy(name)


async def test_a_model_worse_on_the_same_holdout_is_never_activated_automatically(
    template_database: TemplateDatabase,
) -> None:
    """The active model learnt from true labels; then the labels of the training windows are
    scrambled (churn events moved to random customers), so the next run learns noise. Judged on
    the same, untouched holdout it loses, and the run says so instead of activating it."""
    name, settings = await _world(template_database, seed=33)
    pool = await create_pool(settings, settings.database_url or "")
    try:
        good = await train_and_register(pool, now=NOW, activate=True, force=True, actor="test")
        holdout_cutoff = good.bundle.card.data.holdout_cutoff
        async with pool.acquire() as conn:
            await _scramble_churn_before(conn, holdout_cutoff)
        worse = await train_and_register(pool, now=NOW, activate=True, force=False, actor="test")
        assert worse.bundle.version != good.bundle.version
        assert worse.activation is None
        assert worse.not_activated is not None
        assert "does not beat the active model" in worse.not_activated
        assert await pool.fetchval("SELECT version FROM models WHERE active") == good.bundle.version
        # on its own card its holdout is honest: no better than chance, far below the active one's
        assert worse.bundle.card.churn.holdout.roc_auc < good.bundle.card.churn.holdout.roc_auc - 0.1
    finally:
        await pool.close()
        await template_database.drop_copy(name)


async def _scramble_churn_before(conn: asyncpg.Connection, cutoff: datetime) -> None:
    events = await conn.fetch(
        "SELECT id, occurred_at FROM customer_events WHERE kind = 'churned' AND occurred_at <= $1", cutoff
    )
    customers = [r["id"] for r in await conn.fetch("SELECT id FROM customers ORDER BY id")]
    rng = np.random.default_rng(0)
    await conn.executemany(
        "UPDATE customer_events SET customer_id = $2 WHERE id = $1",
        [
            (e["id"], customers[int(k)])
            for e, k in zip(events, rng.integers(0, len(customers), len(events)), strict=True)
        ],
    )
