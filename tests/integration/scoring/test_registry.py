"""The model registry: activate only what wins, force, roll back, train in the background, and
every replica's Scorer cache following the active version."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import asyncpg
import numpy as np
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from feedback_svc.apikeys.service import create_api_key
from feedback_svc.app import create_app
from feedback_svc.db.pool import connect, create_pool
from feedback_svc.outbox.worker import OutboxWorker
from feedback_svc.scoring import registry
from feedback_svc.scoring.cache import ScorerCache, baseline_bundle
from feedback_svc.scoring.trainer import TOPIC, TrainingJob
from feedback_svc.settings import Settings
from ml.bundle import ModelBundle
from ml.simulator import populate
from ml.training import fit, load_snapshots
from tests.db import TemplateDatabase, with_database

pytestmark = pytest.mark.asyncio(loop_scope="module")
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class World:
    settings: Settings
    pool: asyncpg.Pool
    good: ModelBundle
    bad: ModelBundle
    admin: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(template_database: TemplateDatabase) -> AsyncIterator[World]:
    name = await template_database.copy()
    url = with_database(template_database.admin_url, name)
    settings = Settings(
        database_url=url, secret_key="test-secret-" + "x" * 32, api_key_cache_seconds=0, run_workers=False
    )
    conn = await connect(url)
    try:
        await populate(conn, customers=1500, seed=21, now=NOW)
        await conn.execute("ANALYZE")
        train, holdout = await load_snapshots(conn, now=NOW)
        good = fit(train, holdout, now=NOW).bundle
        rng = np.random.default_rng(0)
        # the same inputs with churn labels shuffled: a model that learned nothing
        noise = [replace(s, churned=rng.permutation(s.churned)) for s in train]
        bad = fit(noise, holdout, now=NOW).bundle
        assert good.version != bad.version
        for bundle in (good, bad):
            assert await registry.register_model(conn, bundle)
        assert not await registry.register_model(conn, good), "a version is registered once"
        key = await create_api_key(conn, name="ops", scopes=["admin"])
    finally:
        await conn.close()
    pool = await create_pool(settings, url)
    try:
        yield World(settings, pool, good, bad, {"Authorization": f"Bearer {key.key}"})
    finally:
        await pool.close()
        await template_database.drop_copy(name)


async def test_activate_only_if_better_force_and_rollback(world: World) -> None:
    good, bad = world.good.version, world.bad.version
    async with AsyncTestClient(app=create_app(world.settings)) as client:
        listed = (await client.get("/v1/models", headers=world.admin)).json()
        assert listed["serving"] == baseline_bundle().version
        assert {m["version"] for m in listed["models"]} == {good, bad}
        assert not any(m["active"] for m in listed["models"])
        assert set(listed["models"][0]["metrics"]) == {"churn", "loyalty"}

        forced = await client.post(f"/v1/models/{good}/activate?force=true", headers=world.admin)
        assert forced.status_code == 200, forced.text
        assert forced.json()["active_version"] == good
        assert forced.json()["forced"]
        assert forced.json()["comparison"]["holdout_cutoff"]

        refused = await client.post(f"/v1/models/{bad}/activate", headers=world.admin)
        assert refused.status_code == 409
        assert "does not beat" in refused.json()["detail"]
        assert "force=true" in refused.json()["detail"]
        assert (await client.get("/v1/models", headers=world.admin)).json()["serving"] == good

        assert (
            await client.post(f"/v1/models/{bad}/activate?force=true", headers=world.admin)
        ).status_code == 200
        wins = await client.post(f"/v1/models/{good}/activate", headers=world.admin)
        assert wins.status_code == 200, wins.text
        comparison = wins.json()["comparison"]
        assert comparison["candidate_wins"]
        assert comparison["candidate"]["brier"] < comparison["active"]["brier"]
        assert wins.json()["previous_version"] == bad

        again = await client.post(f"/v1/models/{good}/activate", headers=world.admin)
        assert again.status_code == 409
        assert "already active" in again.json()["detail"]

        back = await client.post("/v1/models/rollback", headers=world.admin)
        assert back.status_code == 200
        assert back.json()["active_version"] == bad
        assert (await client.get("/v1/models", headers=world.admin)).json()["serving"] == bad
        forth = await client.post("/v1/models/rollback", headers=world.admin)
        assert forth.json()["active_version"] == good

        unknown = await client.post("/v1/models/nope/activate", headers=world.admin)
        assert unknown.status_code == 404
        detail = (await client.get(f"/v1/models/{good}", headers=world.admin)).json()
        assert detail["active"]
        assert detail["card"]["version"] == good
    history = await world.pool.fetch("SELECT action, forced FROM model_activations ORDER BY id")
    assert [(r["action"], r["forced"]) for r in history] == [
        ("activate", True),
        ("activate", True),
        ("activate", False),
        ("rollback", True),
        ("rollback", True),
    ]


async def test_the_models_api_is_for_admins(world: World) -> None:
    async with world.pool.acquire() as conn:
        crm = await create_api_key(conn, name="crm", scopes=["crm"])
    async with AsyncTestClient(app=create_app(world.settings)) as client:
        response = await client.get("/v1/models", headers={"Authorization": f"Bearer {crm.key}"})
    assert response.status_code == 403


async def test_every_replica_follows_the_active_model(world: World) -> None:
    clock = [0.0]
    one = ScorerCache(refresh_seconds=5.0, clock=lambda: clock[0])
    two = ScorerCache(refresh_seconds=5.0, clock=lambda: clock[0])
    active = (await one.scorer(world.pool)).version
    assert (await two.scorer(world.pool)).version == active
    other = world.bad.version if active == world.good.version else world.good.version
    # "replica one" activates; replica two keeps its model until its next look at the registry
    async with world.pool.acquire() as conn:
        await registry.activate(conn, other, force=True, actor="test")
    clock[0] = 4.9
    assert (await two.scorer(world.pool)).version == active
    clock[0] = 5.1
    assert (await two.scorer(world.pool)).version == other
    assert (await one.scorer(world.pool)).version == other
    # with nothing active the shipped baseline serves again
    await world.pool.execute("UPDATE models SET active = false")
    clock[0] = 10.2
    assert (await two.scorer(world.pool)).version == baseline_bundle().version


async def test_training_runs_in_the_background_and_reports_back(world: World) -> None:
    async with AsyncTestClient(app=create_app(world.settings)) as client:
        asked = await client.post("/v1/models/training-runs?activate=true", headers=world.admin)
        assert asked.status_code == 202, asked.text
        location = asked.headers["location"]
        assert asked.json()["status"] == "queued"
        assert (await client.get(location, headers=world.admin)).json()["status"] == "queued"
        worker = OutboxWorker(world.pool, {TOPIC: TrainingJob(world.pool)})
        assert await worker.run_once() == 1
        run = (await client.get(location, headers=world.admin)).json()
        assert run["status"] == "succeeded", run
        assert run["progress"] == 1.0
        assert run["model_version"]
        listed = (await client.get("/v1/models", headers=world.admin)).json()
        assert run["model_version"] in {m["version"] for m in listed["models"]}
        # the outcome of the activation is reported either way
        assert run["activated"] is not None
        assert "activated" in run["message"]
        # a redelivered job for a finished run does nothing
        await world.pool.execute(
            "UPDATE outbox SET status = 'pending', locked_until = NULL WHERE topic = $1", TOPIC
        )
        assert await worker.run_once() == 1
        assert (await client.get(location, headers=world.admin)).json()["finished_at"] == run["finished_at"]


async def test_training_without_enough_data_fails_with_what_is_missing(
    template_database: TemplateDatabase,
) -> None:
    name = await template_database.copy()
    url = with_database(template_database.admin_url, name)
    settings = Settings(database_url=url, secret_key="s" * 40)
    pool = await create_pool(settings, url)
    try:
        async with pool.acquire() as conn:
            run = await conn.fetchval("INSERT INTO training_runs (requested_by) VALUES ('t') RETURNING id")
            await conn.execute(
                "INSERT INTO outbox (topic, payload) VALUES ($1, $2)", TOPIC, {"run_id": str(run)}
            )
        await OutboxWorker(pool, {TOPIC: TrainingJob(pool)}).run_once()
        row = await pool.fetchrow("SELECT status, error FROM training_runs WHERE id = $1", run)
        assert row["status"] == "failed"
        assert "churned" in row["error"]
        assert "retained" in row["error"]
    finally:
        await pool.close()
        await template_database.drop_copy(name)
